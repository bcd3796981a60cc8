"""The version search across models reads its matches once for the count and the page: the
pages, counts, links and rows are exactly those of the filter's own ordered queryset, with
readable models only and no trash, below and beyond the number of matches read at once."""

import pytest

from models_app import access, selectors, services
from models_app.api import pagination
from models_app.filters import VersionFilterSet
from models_app.models import ModelVersion

from .test_api import BASE, assert_error, client_for

SEARCHES = (
    {"q": "bucket"},
    {"q": "ALPHA"},
    # Orders without ties: among equal keys no database promises one order.
    {"q": "bucket", "ordering": "name,version"},
    {"q": "bucket", "ordering": "-version,-name"},
    {"tag": "half:yes"},
    # The stage filter makes the query DISTINCT; ordered by a column of another table too.
    {"q": "bucket", "stage": ["None", "Production"], "ordering": "-name,version"},
    {},
)


@pytest.fixture
def shelf(registry, make_version):
    """alpha (7 versions), beta (5), gamma (4, one trashed), delta (3, model trashed)."""
    versions = {}
    for name, count in (("alpha", 7), ("beta", 5), ("gamma", 4), ("delta", 3)):
        versions[name] = [
            make_version(name, tags={"half": "yes" if n % 2 else "no"}) for n in range(count)
        ]
    services.version_delete(version=versions["gamma"][1], user=None)
    services.registration_delete(registration=versions["delta"][0].registration, user=None)
    return versions


def _expected(user, params) -> list[tuple[str, int]]:
    """What the filter itself answers, in its order: the reference for every page."""
    rows = access.readable_versions(user, selectors.version_list())
    found = VersionFilterSet(params, queryset=rows).qs
    return [(v.registration.name, v.version) for v in found]


def _pages(client, params, size):
    """Every page of a search, following the `next` links."""
    pages, url, query = [], f"{BASE}/versions/", {**params, "page_size": size}
    while url:
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        url, query = body["next"], None
    return pages


def _check(client, user, params, size=3):
    expected = _expected(user, params)
    pages = _pages(client, params, size)
    assert all(page["count"] == len(expected) for page in pages)
    assert len(pages) == max(1, -(-len(expected) // size))
    got = [(row["name"], row["version"]) for page in pages for row in page["results"]]
    assert got == expected
    assert pages[0]["previous"] is None
    assert all(page["page_size"] == size for page in pages)
    return expected


@pytest.mark.parametrize("params", SEARCHES)
@pytest.mark.parametrize("read_once", [1000, 4])
def test_pages_are_those_of_the_filter(shelf, admin_user, monkeypatch, params, read_once):
    monkeypatch.setattr(pagination, "MATCHES_READ_ONCE", read_once)
    expected = _check(client_for(admin_user), admin_user, params)
    names = {name for name, _ in expected}
    assert "delta" not in names and ("gamma", 2) not in expected  # the trash stays out
    if params.get("q") == "bucket":
        assert len(expected) == 7 + 5 + 3


@pytest.mark.parametrize("read_once", [1000, 2])
def test_only_readable_models_are_found(shelf, settings, outsider, monkeypatch, read_once):
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    monkeypatch.setattr(pagination, "MATCHES_READ_ONCE", read_once)
    services.role_grant(
        registration=shelf["beta"][0].registration,
        principal=outsider.username,
        role="viewer",
        user=None,
    )
    client = client_for(outsider)
    expected = _check(client, outsider, {"q": "bucket"}, size=2)
    assert {name for name, _ in expected} == {"beta"} and len(expected) == 5
    assert client.get(f"{BASE}/versions/", {"q": "alpha"}).json()["count"] == 0


def test_a_page_past_the_end_is_refused_as_before(shelf, admin_user, monkeypatch):
    client = client_for(admin_user)
    for read_once in (1000, 4):
        monkeypatch.setattr(pagination, "MATCHES_READ_ONCE", read_once)
        assert_error(
            client.get(f"{BASE}/versions/", {"q": "bucket", "page_size": 5, "page": 4}), 404
        )
        empty = client.get(f"{BASE}/versions/", {"q": "nothing-like-this"}).json()
        assert (empty["count"], empty["results"], empty["next"]) == (0, [], None)


def test_the_search_evaluates_its_filter_once(shelf, admin_user, django_assert_num_queries):
    """The count and the page of a small result come from one query of the filter: keys,
    then the page's rows by key and their aliases (and the user's token-less session)."""
    client = client_for(admin_user)
    client.get(f"{BASE}/versions/", {"q": "alpha"})
    with django_assert_num_queries(3) as captured:
        body = client.get(f"{BASE}/versions/", {"q": "alpha", "page_size": 2}).json()
    assert body["count"] == 7 and len(body["results"]) == 2
    searched = [q["sql"] for q in captured.captured_queries if "ALPHA" in q["sql"].upper()]
    assert len(searched) == 1
    assert ModelVersion.objects.filter(registration__name="alpha").count() == 7
