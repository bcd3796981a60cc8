"""The top search: models by name, description, tag key or value; versions by run id or
alias; bounded input, a constant number of queries, only what the user may read."""

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
    churn = make_version("churn", experiment_run_id="9f1c2e77aa", pipeline_run_id="nightly-42")
    services.registration_update(
        registration=churn.registration,
        description="Predicts subscription cancellations",
        tags={"team": "growth"},
        user=None,
    )
    fraud = make_version("fraud", experiment_run_id="abc123")
    services.registration_update(
        registration=fraud.registration, tags={"owner": "risk-squad"}, user=None
    )
    services.alias_set(version=fraud, alias="champion", user=None)
    make_version("sentiment")
    return churn, fraud


def search(client, text, **extra):
    response = client.get(reverse("search"), {"q": text}, **extra)
    assert response.status_code == 200
    body = response.content.decode()
    models = re.findall(r'class="strong" href="/models/default/([\w-]+)/">', body)
    versions = re.findall(r'class="strong" href="[^"]+/versions/\d+/">([\w-]+ v\d+)<', body)
    return models, versions


@pytest.mark.parametrize(
    "text,models,versions",
    [
        ("CHURN", ["churn"], []),  # name, any case
        ("cancellation", ["churn"], []),  # description
        ("team", ["churn"], []),  # tag key
        ("risk-squad", ["fraud"], []),  # tag value
        ("9f1c2e77aa", [], ["churn v1"]),  # experiment run id
        ("9f1c", [], ["churn v1"]),  # its start
        ("nightly-42", [], ["churn v1"]),  # pipeline run id
        ("@champion", [], ["fraud v1"]),  # alias
        ("champion", [], ["fraud v1"]),
        ("%", [], []),  # a wildcard is a character like any other
        ("_", [], []),
    ],
)
def test_the_top_search_finds(admin_client, catalogue, text, models, versions):
    assert search(admin_client, text) == (models, versions)


def test_every_page_posts_the_top_search_to_it(admin_client, catalogue):
    body = admin_client.get(reverse("dashboard")).content.decode()
    assert f'class="topsearch" action="{reverse("search")}"' in body


def test_a_too_long_search_says_so_and_searches_nothing(admin_client, catalogue):
    response = admin_client.get(reverse("search"), {"q": "a" * 5000})
    assert response.status_code == 200
    assert "too long" in response.content.decode()
    assert "MODEL_REGISTRY_MAX_FILTER_LENGTH" in response.content.decode()


def test_search_runs_a_constant_number_of_queries(
    admin_client, catalogue, registry, make_version, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        search(admin_client, "r")
    services.registrations_bulk_create(
        registry=registry,
        registrations=[
            {
                "name": f"model-{i:03}",
                "tags": {"k": "r"},
                "versions": [{"model_source_uri": "s3://x", "experiment_run_id": f"r{i}"}],
            }
            for i in range(60)
        ],
        user=None,
    )
    with django_assert_max_num_queries(10):
        models, versions = search(admin_client, "r")
    assert len(models) == 25 and len(versions) == 25


def test_the_pager_refreshes_only_the_models(admin_client, catalogue, registry):
    services.registrations_bulk_create(
        registry=registry,
        registrations=[{"name": f"model-{i:03}", "versions": []} for i in range(30)],
        user=None,
    )
    body = admin_client.get(reverse("search"), {"q": "model", "page": 2}, **HTMX).content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<section class="card" id="search-models"')
    assert len(re.findall(r'class="strong"', body)) == 5


def test_search_shows_only_what_the_user_may_read(client, catalogue, django_user_model, settings):
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"  # signed-in users read only their grants
    user = django_user_model.objects.create_user("nobody", password="nobody-pass-123")
    client.force_login(user)
    assert search(client, "churn") == ([], [])
    assert search(client, "champion") == ([], [])
