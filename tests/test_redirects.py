"""Every view that reads `next` stays on this site, whatever the user sends."""

import pytest
from django.urls import reverse

OFF_SITE = [
    "//evil.example/x",
    "https://evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example/x",
    "javascript:alert(1)",
    "http:///evil.example",
]


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    return client


@pytest.fixture
def version(make_version):
    return make_version("churn")


def _transition(version):
    return reverse("version_transition", args=["default", "churn", version.version])


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_transition_view_refuses_an_off_site_next(admin_client, version, target):
    response = admin_client.post(_transition(version), {"stage": "Staging", "next": target})
    assert response.status_code == 302
    assert response["Location"] == version.registration.get_absolute_url()


def test_the_transition_view_follows_a_local_next(admin_client, version):
    response = admin_client.post(
        _transition(version), {"stage": "Staging", "next": version.get_absolute_url()}
    )
    assert response["Location"] == version.get_absolute_url()


@pytest.mark.parametrize("target", OFF_SITE)
def test_signing_in_refuses_an_off_site_next(client, django_user_model, target):
    django_user_model.objects.create_user("carol", password="carol-pass-123")
    response = client.post(
        "/login/", {"username": "carol", "password": "carol-pass-123", "next": target}
    )
    assert response.status_code == 302
    assert "evil" not in response["Location"] and response["Location"].startswith("/")


@pytest.mark.parametrize("target", OFF_SITE)
def test_signing_out_refuses_an_off_site_next(admin_client, target):
    response = admin_client.post(f"/logout/?next={target}")
    assert response.status_code == 302
    assert "evil" not in response["Location"] and response["Location"].startswith("/")
