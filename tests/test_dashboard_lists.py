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


@pytest.fixture
def many(registry):
    services.registrations_bulk_create(
        registry=registry,
        registrations=[{"name": f"model-{i:03}", "versions": []} for i in range(120)],
        user=None,
    )


def rows(body: str) -> list[str]:
    return re.findall(r'class="strong" href="/models/default/([\w-]+)/">', body)


def test_the_user_picks_the_page_size(admin_client, many, django_assert_max_num_queries):
    page = admin_client.get(reverse("registration_list"), {"ordering": "name"}).content.decode()
    assert len(rows(page)) == 25
    assert '<option value="25" selected>' in page and '<option value="100"' in page
    with django_assert_max_num_queries(10):
        body = admin_client.get(
            reverse("registration_list"), {"ordering": "name", "per_page": "100"}
        ).content.decode()
    assert len(rows(body)) == 100 and '<option value="100" selected>' in body
    assert "per_page=100" in body  # the page links keep the size
    # A size not offered falls back to the default rather than asking the database for it.
    odd = admin_client.get(reverse("registration_list"), {"per_page": "100000"}).content.decode()
    assert len(rows(odd)) == 25


def test_jump_to_page_keeps_the_filters_and_clamps(admin_client, many):
    page = admin_client.get(
        reverse("registration_list"), {"q": "model", "ordering": "name"}
    ).content.decode()
    form = page.split('<form class="pager-form"')[1].split("</form>")[0]
    assert '<input type="hidden" name="q" value="model">' in form
    assert '<input type="hidden" name="ordering" value="name">' in form
    assert 'name="page" min="1" max="5"' in form
    body = admin_client.get(
        reverse("registration_list"), {"q": "model", "ordering": "name", "page": "3"}
    ).content.decode()
    assert rows(body)[0] == "model-050"
    last = admin_client.get(
        reverse("registration_list"), {"ordering": "name", "page": "999"}
    ).content.decode()
    assert rows(last)[-1] == "model-119"


def test_the_versions_table_and_search_have_the_same_controls(admin_client, make_version):
    for _ in range(30):
        make_version("churn")
    url = reverse("registration_detail", args=("default", "churn"))
    body = admin_client.get(url, {"per_page": "10"}).content.decode()
    form = body.split('<form class="pager-form"')[1].split("</form>")[0]
    assert '<input type="hidden" name="partial" value="versions">' in form
    assert 'max="3"' in form
    search = admin_client.get(reverse("search"), {"q": "churn"}).content.decode()
    assert '<form class="pager-form"' not in search  # one model: nothing to page


@pytest.mark.parametrize(
    "cookie,attribute,label",
    [
        (None, None, "Auto"),
        ("dark", ' data-theme="dark"', "Dark"),
        ("light", ' data-theme="light"', "Light"),
        ('"><script>x()</script>', None, "Auto"),  # only the two known values are written
    ],
)
def test_the_remembered_theme_is_rendered_from_the_first_paint(
    admin_client, db, cookie, attribute, label
):
    if cookie:
        admin_client.cookies["theme"] = cookie
    body = admin_client.get(reverse("dashboard")).content.decode()
    html_tag = re.search(r"<html[^>]*>", body).group(0)
    assert html_tag == f'<html lang="en"{attribute or ""}>'
    assert re.search(rf"data-theme-toggle[^>]*>{label}</button>", body)
    assert "<script>x()" not in body


def test_the_stylesheet_and_script_hold_no_merge_conflict_markers():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "static"
    for path in (root / "css" / "registry.css", root / "js" / "registry.js"):
        lines = path.read_text().splitlines()
        markers = [line for line in lines if line.startswith(("<<<<<<< ", ">>>>>>> "))]
        assert markers == [] and "=======" not in lines, path
