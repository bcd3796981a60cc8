"""The models list past MLflow's: sorting on latest version and stage counts (page and API)."""

import re

import pytest
from django.urls import reverse

from models_app import services

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def catalogue(registry, make_version):
    """alpha: 3 versions, 1 Staging; beta: 1 version in Production; gamma: none;
    delta: 5 versions, 2 Staging, 1 Archived."""
    alpha = [make_version("alpha") for _ in range(3)]
    services.version_transition_stage(version=alpha[0], stage="Staging", user=None)
    beta = make_version("beta")
    services.version_transition_stage(version=beta, stage="Production", user=None)
    services.registration_create(registry=registry, name="gamma", user=None)
    delta = [make_version("delta") for _ in range(5)]
    services.version_transition_stage(version=delta[1], stage="Staging", user=None)
    services.version_transition_stage(version=delta[2], stage="Staging", user=None)
    services.version_transition_stage(version=delta[3], stage="Archived", user=None)


def names_in(body: str) -> list[str]:
    return re.findall(r'class="strong" href="[^"]+">(\w+)</a>', body)


ORDERS = [
    ("latest", ["beta", "alpha", "delta", "gamma"]),
    ("-latest", ["delta", "alpha", "beta", "gamma"]),
    ("-versions", ["delta", "alpha", "beta", "gamma"]),
    ("-production", ["beta", "alpha", "delta", "gamma"]),
    ("-staging", ["delta", "alpha", "beta", "gamma"]),
    ("-archived", ["delta", "alpha", "beta", "gamma"]),
    ("-none", ["alpha", "delta", "beta", "gamma"]),
    ("staging", ["beta", "gamma", "alpha", "delta"]),
]


@pytest.mark.parametrize("ordering,expected", ORDERS)
def test_the_api_sorts_models_by_latest_version_and_stage_counts(
    api, catalogue, ordering, expected
):
    rows = api.get("/api/v1/models/", {"ordering": ordering}).json()["results"]
    assert [row["name"] for row in rows] == expected


def test_the_api_reports_version_counts_by_stage(api, catalogue):
    rows = {r["name"]: r for r in api.get("/api/v1/models/").json()["results"]}
    assert rows["delta"]["version_count_by_stage"] == {
        "Production": 0,
        "Staging": 2,
        "Archived": 1,
        "None": 2,
    }
    assert rows["gamma"]["version_count_by_stage"]["None"] == 0


@pytest.mark.parametrize("ordering,expected", ORDERS)
def test_the_models_page_sorts_by_latest_version_and_stage_counts(
    admin_client, catalogue, ordering, expected, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        body = admin_client.get(reverse("registration_list"), {"ordering": ordering}, **HTMX)
    assert names_in(body.content.decode()) == expected


def test_the_new_sortable_headers_sort_most_first_on_the_first_click(admin_client, catalogue):
    body = admin_client.get(reverse("registration_list")).content.decode()
    for field in ("latest", "versions", "production", "staging", "archived"):
        assert f"ordering=-{field}" in body, field
    body = admin_client.get(reverse("registration_list"), {"ordering": "-staging"}).content.decode()
    assert "ordering=staging" in body


def test_an_unknown_sort_is_a_400_in_the_api(api, catalogue):
    assert api.get("/api/v1/models/", {"ordering": "-secret"}).status_code == 400
