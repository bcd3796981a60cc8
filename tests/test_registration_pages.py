"""Lists of models in their default order (registry name, then name), read a page at a time
from each registry's name index: the same rows, order, counts and links as sorting the whole
listing, whichever registries a page spans, with filters, permissions and the trash."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from models_app import access, selectors, services
from models_app.api.serializers import RegistrationSerializer
from models_app.models import ModelRegistration

from .test_api import BASE, client_for

# Registry names sort against their ids: "zeta" is created before "alpha".
LAYOUT = {
    "zeta": ["b1", "B2", "a3", "c4", "a10", "Z9", "b7"],
    "alpha": ["m2", "m1", "M3", "x"],
    "default": ["one", "two", "three", "four", "five", "six"],
}
TRASHED = [("zeta", "c4"), ("default", "two")]


@pytest.fixture
def spread(registry):
    registries = {"default": registry}
    for name in ("zeta", "alpha"):
        registries[name] = services.registry_create(name=name, user=None)
    for registry_name, names in LAYOUT.items():
        for index, name in enumerate(names):
            version = services.version_register(
                registry=registries[registry_name],
                name=name,
                model_source_uri=f"s3://b/{registry_name}/{name}",
                tags={"n": str(index)},
                user=None,
            )
            services.registration_update(
                registration=version.registration,
                tags={"team": "a" if index % 2 else "b"},
                user=None,
            )
            if index % 3 == 0:
                services.version_transition_stage(version=version, stage="Production", user=None)
                services.alias_set(version=version, alias="champion", user=None)
            if index % 2 == 0:
                # More versions (two archived), the newest trashed: counts leave it out.
                for stage in ("Staging", "Archived", "Archived", "None"):
                    newer = services.version_register(
                        registry=registries[registry_name],
                        name=name,
                        model_source_uri=f"s3://b/{registry_name}/{name}/{stage}",
                        user=None,
                    )
                    if stage != "None":
                        services.version_transition_stage(version=newer, stage=stage, user=None)
                services.version_delete(version=newer, user=None)
    for registry_name, name in TRASHED:
        services.registration_delete(
            registration=selectors.registration_get(registry=registry_name, name=name), user=None
        )
    return registries


def _expected(user, **filters):
    """The listing as one ordered queryset, sliced by the database: what a page must hold."""
    rows = access.readable_registrations(
        user, selectors.registration_list().select_related("created_by").filter(**filters)
    ).order_by("registry__name", "name")
    return [RegistrationSerializer(r).data for r in rows]


def _pages(client, size, **params):
    pages, page = [], 1
    while True:
        body = client.get(f"{BASE}/models/", {"page_size": size, "page": page, **params}).json()
        pages.append(body)
        if not body["next"]:
            return pages
        page += 1


def _assert_pages_match(client, expected, **params):
    for size in range(1, len(expected) + 2):
        pages = _pages(client, size, **params)
        assert [body["count"] for body in pages] == [len(expected)] * len(pages)
        for number, body in enumerate(pages, start=1):
            assert body["results"] == expected[(number - 1) * size : number * size], (size, number)
            assert bool(body["previous"]) == (number > 1)
            if body["next"]:
                assert f"page={number + 1}" in body["next"] and f"page_size={size}" in body["next"]
        assert len(pages) == max(1, -(-len(expected) // size))


def test_every_page_size_gives_the_rows_of_the_whole_sorted_listing(api, admin_user, spread):
    expected = _expected(admin_user)
    assert len(expected) == sum(map(len, LAYOUT.values())) - len(TRASHED)
    assert [(r["registry"], r["name"]) for r in expected] == [
        (registry, name)
        for registry in sorted(LAYOUT)
        for name in sorted(set(LAYOUT[registry]) - {n for r, n in TRASHED if r == registry})
    ]
    assert any(r["latest_versions_by_stage"]["Production"] for r in expected)
    assert {(r["version_count"], r["latest_version"]) for r in expected} == {(1, 1), (4, 4)}
    assert {r["version_count_by_stage"]["Archived"] for r in expected} == {0, 2}
    _assert_pages_match(api, expected)


def test_pages_of_a_filtered_listing_keep_the_order(api, admin_user, spread):
    _assert_pages_match(api, _expected(admin_user, tags__team="a"), tag="team:a")
    expected = _expected(admin_user, registry__name="zeta")
    assert len(expected) == 6
    _assert_pages_match(api, expected, registry="zeta")
    _assert_pages_match(api, _expected(admin_user, name__icontains="m"), name_contains="m")


def test_a_reader_pages_through_only_the_models_granted_to_them(
    settings, spread, outsider, admin_user
):
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    for registry_name, name in [("zeta", "a3"), ("zeta", "Z9"), ("alpha", "x"), ("default", "six")]:
        services.role_grant(
            registration=selectors.registration_get(registry=registry_name, name=name),
            principal=outsider.username,
            role="viewer",
            user=None,
        )
    expected = _expected(outsider)
    assert [(r["registry"], r["name"]) for r in expected] == [
        ("alpha", "x"),
        ("default", "six"),
        ("zeta", "Z9"),
        ("zeta", "a3"),
    ]
    _assert_pages_match(client_for(outsider), expected)


def test_a_page_past_the_last_is_refused_as_before(api, spread):
    response = api.get(f"{BASE}/models/", {"page_size": 5, "page": 99})
    assert response.status_code == 404


def test_the_dashboard_pages_through_the_same_order(client, admin_user, spread):
    client.force_login(admin_user)
    expected = [r["name"] for r in _expected(admin_user)]
    shown = []
    for page in (1, 2):
        body = client.get(reverse("registration_list"), {"per_page": 10, "page": page})
        shown += re.findall(r'class="strong" href="[^"]+">([^<]+)</a>', body.content.decode())
    assert shown == expected
    assert "15 in all" in body.content.decode()


def test_a_page_spanning_registries_costs_the_queries_of_one_within_a_registry(
    api, spread, django_assert_max_num_queries
):
    def queries(**params):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"{BASE}/models/", params).status_code == 200
        return len(captured.captured_queries)

    within = queries(page_size=2, page=2)  # alpha only, cut at both ends
    across = queries(page_size=9, page=1)  # alpha whole, default cut
    three = queries(page_size=7, page=2)  # default cut, zeta cut
    everything = queries(page_size=50)
    assert within == across == three == everything
    with django_assert_max_num_queries(everything):
        api.get(f"{BASE}/models/", {"page_size": 3, "page": 4})


def test_another_order_is_sorted_by_the_database_as_asked(api, admin_user, spread):
    rows = api.get(f"{BASE}/models/", {"ordering": "-name", "page_size": 100}).json()["results"]
    names = list(
        ModelRegistration.objects.order_by("-name", "registry__name").values_list("name", flat=True)
    )
    assert [r["name"] for r in rows] == names


def test_mlflow_search_gives_each_model_the_latest_versions_its_own_read_gives(api, spread):
    MLFLOW = "/api/2.0/mlflow/registered-models"
    found = api.get(f"{MLFLOW}/search", {"max_results": 100}).json()["registered_models"]
    assert [m["name"] for m in found] == sorted(
        set(LAYOUT["default"]) - {n for r, n in TRASHED if r == "default"}
    )
    stages = set()
    for model in found:
        alone = api.get(f"{MLFLOW}/get", {"name": model["name"]}).json()["registered_model"]
        assert model == alone
        stages |= {v["current_stage"] for v in model["latest_versions"]}
    assert stages == {"None", "Production", "Staging", "Archived"}


def test_mlflow_search_pages_cost_the_same_queries_for_any_size(api, spread):
    def queries(size):
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/2.0/mlflow/registered-models/search", {"max_results": size})
        assert response.status_code == 200
        return len(captured.captured_queries)

    assert queries(1) == queries(100)
