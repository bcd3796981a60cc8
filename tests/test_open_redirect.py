"""From the outside: no view that reads `next` sends a browser to another site."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db

HOSTILE = [
    "//evil.example/x",
    "https://evil.example/x",
    "http://evil.example",
    "///evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "https:evil.example",
    " //evil.example/x",
    "//evil.example%2F@testserver/x",
]


def assert_stays_here(response):
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        target = response["Location"]
        parts = urlsplit(target.replace("\\", "/").strip())
        assert not parts.scheme and not parts.netloc, target
        assert target.startswith("/") and not target.startswith(("//", "/\\")), target


@pytest.mark.parametrize("next_url", HOSTILE)
def test_signing_in(client, engineer, next_url):
    response = client.post(
        f"/login/?next={next_url}",
        {"username": "alice", "password": "alice-pass-123", "next": next_url},
    )
    assert_stays_here(response)
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("next_url", HOSTILE)
def test_visiting_the_login_page_signed_in(client, engineer, next_url):
    client.force_login(engineer)
    assert_stays_here(client.get("/login/", {"next": next_url}))


@pytest.mark.parametrize("next_url", HOSTILE)
def test_signing_out(client, engineer, next_url):
    client.force_login(engineer)
    assert_stays_here(client.post("/logout/", {"next": next_url}))


@pytest.mark.parametrize("next_url", HOSTILE)
def test_the_admin_sign_in(client, admin_user, next_url):
    response = client.post(
        f"/admin/login/?next={next_url}",
        {"username": "admin", "password": "password", "next": next_url},
    )
    assert_stays_here(response)


@pytest.mark.parametrize("next_url", HOSTILE)
def test_changing_a_stage(client, make_version, reviewer, next_url):
    version = make_version("churn")
    client.force_login(reviewer)
    response = client.post(
        f"/models/default/churn/versions/{version.version}/transition/",
        {"stage": "Staging", "comment": "", "next": next_url},
    )
    assert_stays_here(response)
    assert response.status_code == 302
