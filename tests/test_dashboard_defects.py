"""Dashboard defects found by trying the pages as a new user (issue 13), server side."""

import pytest
from django.urls import reverse

from models_app import services

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    return client


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn", metrics={"precision": 0.95})
    v2 = make_version("churn", metrics={"precision": 0.80})
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2


def test_an_empty_stage_in_the_versions_filter_means_any_stage(admin_client, churn):
    page = reverse("registration_detail", args=("default", "churn"))
    response = admin_client.get(
        page, {"partial": "versions", "stage": "", "metric": "precision>=0.9"}, **HTMX
    )
    body = response.content.decode()
    assert "Select a valid choice" not in body and "alert-error" not in body
    assert 'id="version-1"' in body and 'id="version-2"' not in body


@pytest.mark.parametrize(
    "path,query",
    [
        ("registration_list", {"stage": "", "registry": "", "q": "", "tag": ""}),
        ("api-version-search", {"stage": "", "metric": "", "created_after": ""}),
        ("api-transition-list", {"to_stage": "", "cause": "", "version": ""}),
        ("api-registration-list", {"stage": "", "registry": "", "ordering": ""}),
    ],
)
def test_empty_filter_fields_mean_any_on_every_listing(admin_client, churn, path, query):
    response = admin_client.get(reverse(path), query)
    assert response.status_code == 200
    assert b"churn" in response.content
    assert b"Select a valid choice" not in response.content
