"""Dashboard pages: sign-in, each page, htmx fragments, promotions, query counts."""

import json

import pytest
from django.urls import reverse

from models_app import services
from models_app.models import ModelAlias, ModelRegistration, ModelVersion, StageTransition
from tests.conftest import grant

HTMX = {"HTTP_HX_REQUEST": "true"}
CONFIRM = {"confirm_production": "on"}  # the page's tick for moves that leave Production


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    return client


@pytest.fixture
def churn(make_version):
    v1 = make_version(
        "churn",
        metrics={"accuracy": 0.90, "loss": 0.3},
        parameters={"lr": "0.1"},
        pipeline_name="train_churn",
        experiment_run_id="run-1",
        code_version="abc",
    )
    v2 = make_version("churn", metrics={"accuracy": 0.95, "loss": 0.2}, parameters={"lr": "0.01"})
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2


def url(name, *args):
    return reverse(name, args=args)


PAGES = [
    ("dashboard", ()),
    ("registration_list", ()),
    ("registration_detail", ("default", "churn")),
    ("version_detail", ("default", "churn", 1)),
    ("register_version", ()),
    ("registries", ()),
    ("tokens", ()),
]


@pytest.mark.parametrize("name,args", PAGES)
def test_anonymous_is_sent_to_sign_in(client, churn, name, args):
    response = client.get(url(name, *args))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("name,args", PAGES)
def test_each_page_renders(admin_client, churn, name, args):
    response = admin_client.get(url(name, *args))
    assert response.status_code == 200
    assert b"<html" in response.content


def test_sign_in_page_and_signing_in(client, churn, django_user_model):
    django_user_model.objects.create_user("carol", password="carol-pass-123")
    assert b"Sign in" in client.get("/login/").content
    response = client.post("/login/", {"username": "carol", "password": "carol-pass-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_dashboard_shows_counts_production_and_history(admin_client, churn):
    page = admin_client.get("/").content.decode()
    assert "In Production" in page and "churn" in page
    assert "Latest stage changes" in page


def test_search_as_you_type_returns_only_the_table(admin_client, churn, make_version):
    make_version("fraud")
    response = admin_client.get(url("registration_list"), {"q": "fra"}, **HTMX)
    body = response.content.decode()
    assert "<html" not in body and 'id="registration-table"' in body
    assert "fraud" in body and ">churn<" not in body


def test_list_filters_by_stage_and_tag_and_sorts(admin_client, churn, make_version, registry):
    fraud = make_version("fraud")
    services.registration_update(registration=fraud.registration, tags={"team": "risk"}, user=None)
    body = admin_client.get(url("registration_list"), {"stage": "Production"}).content.decode()
    assert ">churn<" in body and ">fraud<" not in body
    body = admin_client.get(url("registration_list"), {"tag": "team:risk"}).content.decode()
    assert ">fraud<" in body and ">churn<" not in body
    body = admin_client.get(url("registration_list"), {"ordering": "-name"}).content.decode()
    assert body.index(">fraud<") < body.index(">churn<")


def test_a_bad_filter_shows_an_error_in_place(admin_client, churn):
    body = admin_client.get(url("registration_list"), {"stage": "Live"}).content.decode()
    assert "alert-error" in body and "stage" in body


def test_promotion_through_htmx_swaps_the_table_and_triggers_stage_changed(admin_client, churn):
    v1, v2 = churn
    response = admin_client.post(
        url("version_transition", "default", "churn", 2),
        {"stage": "Production", "archive_existing": "on", "comment": "better", **CONFIRM},
        **HTMX,
    )
    assert response.status_code == 200
    assert "stageChanged" in json.loads(response["HX-Trigger"])
    body = response.content.decode()
    assert 'id="versions"' in body and "<html" not in body
    assert "Version 2 moved to Production" in body
    v1.refresh_from_db()
    assert v1.stage == "Archived"
    assert StageTransition.objects.filter(cause="archived_by_promotion", version=v1).exists()
    assert StageTransition.objects.get(version=v2).comment == "better"


def test_promotion_without_javascript_redirects_with_a_message(admin_client, churn):
    response = admin_client.post(
        url("version_transition", "default", "churn", 2), {"stage": "Staging"}, follow=True
    )
    assert b"Version 2 moved to Staging" in response.content
    assert ModelVersion.objects.get(version=2).stage == "Staging"


def test_a_refused_promotion_shows_the_error_in_place_and_changes_nothing(
    client, churn, django_user_model
):
    user = grant(
        django_user_model.objects.create_user("dev", password="dev-pass-123"), "change_modelversion"
    )
    client.force_login(user)
    # A contributor may not take the live version out of Production.
    response = client.post(
        url("version_transition", "default", "churn", 1),
        {"stage": "Archived", **CONFIRM},
        **HTMX,
    )
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert b"was not moved" in response.content
    assert b"permission" in response.content or b"approver role" in response.content
    assert list(ModelVersion.objects.order_by("version").values_list("stage", flat=True)) == [
        "Production",
        "None",
    ]
    assert StageTransition.objects.count() == 1


def test_archive_existing_unchecked_keeps_both_in_production(admin_client, churn):
    admin_client.post(
        url("version_transition", "default", "churn", 2), {"stage": "Production"}, **HTMX
    )
    assert ModelVersion.objects.filter(stage="Production").count() == 2


def test_archiving_with_the_default_checkbox_is_accepted(admin_client, churn):
    response = admin_client.post(
        url("version_transition", "default", "churn", 1),
        {"stage": "Archived", "archive_existing": "on", **CONFIRM},
        **HTMX,
    )
    assert b"moved to Archived" in response.content


def test_the_version_page_moves_its_stage_in_place(admin_client, churn):
    response = admin_client.post(
        url("version_transition", "default", "churn", 2),
        {"stage": "Staging", "from": "version"},
        **HTMX,
    )
    body = response.content.decode()
    assert 'id="stage"' in body and "stage-staging" in body
    assert "stageChanged" in json.loads(response["HX-Trigger"])


@pytest.mark.parametrize(
    "partial,marker",
    [
        ("chart", 'id="chart"'),
        ("history", 'id="history"'),
        ("summary", 'id="summary"'),
        ("versions", 'id="versions"'),
    ],
)
def test_registration_partials(admin_client, churn, partial, marker):
    body = admin_client.get(
        url("registration_detail", "default", "churn"), {"partial": partial}, **HTMX
    ).content.decode()
    assert marker in body and "<html" not in body


def test_chart_plots_the_chosen_metric_with_stages(admin_client, churn):
    body = admin_client.get(
        url("registration_detail", "default", "churn"),
        {"partial": "chart", "metric": "loss"},
        **HTMX,
    ).content.decode()
    assert "loss (lower is better)" in body
    assert body.count("<circle") == 2 and "point stage-production" in body


def test_registration_edit_inline(admin_client, churn):
    response = admin_client.post(
        url("registration_edit", "default", "churn"),
        {"description": "Predicts churn", "tags": "team=growth\nowner=al"},
        **HTMX,
    )
    assert b'id="registration-header"' in response.content
    registration = ModelRegistration.objects.get()
    assert registration.description == "Predicts churn"
    assert registration.tags == {"team": "growth", "owner": "al"}
    response = admin_client.post(
        url("registration_edit", "default", "churn"),
        {"description": "", "tags": "no equals"},
        **HTMX,
    )
    assert b"not key=value" in response.content
    assert ModelRegistration.objects.get().tags == {"team": "growth", "owner": "al"}


def test_version_page_shows_lineage_reproduce_and_load_snippets(admin_client, churn):
    body = admin_client.get(url("version_detail", "default", "churn", 1)).content.decode()
    assert "train_churn" in body and "How to reproduce" in body
    assert "client.load_model(&#x27;churn&#x27;, version=1)" in body
    assert "mlflow.pyfunc.load_model(&#x27;s3://bucket/churn/model&#x27;)" in body


def test_aliases_set_and_remove_from_the_version_page(admin_client, churn):
    response = admin_client.post(
        url("alias_set", "default", "churn", 2), {"alias": "champion"}, **HTMX
    )
    assert b"@champion" in response.content
    assert ModelAlias.objects.get().version.version == 2
    response = admin_client.post(
        url("alias_set", "default", "churn", 2), {"alias": "latest"}, **HTMX
    )
    assert b"Alias not set" in response.content
    admin_client.post(url("alias_delete", "default", "churn", 2, "champion"), **HTMX)
    assert not ModelAlias.objects.exists()


def test_compare_highlights_best_metrics_and_differences(admin_client, churn):
    body = admin_client.get(url("compare", "default", "churn"), {"v": ["1", "2"]}).content.decode()
    # accuracy: higher is better (v2); loss: lower is better (v2 again).
    assert body.count('class="num best') == 2
    assert 'class="differs"' in body
    # Per cell: v2's accuracy differs from v1's, v1's own cells are the baseline.
    assert body.count("changed") >= 2
    response = admin_client.get(url("compare", "default", "churn"), {"v": ["1"]}, follow=True)
    assert b"Tick at least two versions" in response.content


def test_register_a_version_from_the_form(admin_client, churn):
    data = {
        "registry": "default",
        "name": "churn",
        "model_source_uri": "s3://b/churn/3",
        "metrics": "accuracy=0.97",
        "parameters": "lr=0.001",
        "tags": "",
        "metadata": "",
        "pipeline_name": "manual",
        "description": "hand-trained",
    }
    response = admin_client.post(url("register_version"), data)
    assert response.status_code == 302
    version = ModelVersion.objects.get(version=3)
    assert version.metrics == {"accuracy": 0.97} and version.pipeline_name == "manual"
    assert response["Location"] == version.get_absolute_url()


def test_register_form_shows_errors_next_to_fields_and_writes_nothing(admin_client, churn):
    data = {
        "registry": "default",
        "name": "a/b",
        "model_source_uri": "",
        "metrics": "accuracy=high",
    }
    body = admin_client.post(url("register_version"), data).content.decode()
    assert body.count("field-error") >= 2
    assert "must not contain" in body
    assert not ModelRegistration.objects.filter(name="a/b").exists()
    data = {
        "registry": "default",
        "name": "new-model",
        "model_source_uri": "s3://x",
        "metrics": "accuracy=high",
    }
    body = admin_client.post(url("register_version"), data).content.decode()
    assert "must be a number" in body
    assert not ModelRegistration.objects.filter(name="new-model").exists()


def test_tokens_page_creates_shows_once_and_revokes(client, churn, django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    client.force_login(user)
    body = client.post(url("tokens"), {"name": "ci"}, follow=True).content.decode()
    token = user.api_tokens.get()
    assert f"mr_{token.prefix}_" in body and "not be shown again" in body
    assert f"mr_{token.prefix}_" not in client.get(url("tokens")).content.decode().replace(
        f"mr_{token.prefix}_…", ""
    )
    client.post(url("tokens"), {"revoke": token.prefix})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_unknown_models_and_versions_are_404(admin_client, churn):
    assert admin_client.get(url("registration_detail", "default", "ghost")).status_code == 404
    assert admin_client.get(url("version_detail", "default", "churn", 99)).status_code == 404
    assert admin_client.get("/models/default/churn/versions/abc/").status_code == 404


def test_a_flavor_without_a_capability_hides_its_actions(admin_client, db):
    registry = services.registry_create(name="audit", flavor="no-delete", user=None)
    services.version_register(registry=registry, name="m", model_source_uri="s3://x", user=None)
    from models_app.flavors.base import Capability
    from tests.example_flavors import NoDeleteFlavor

    NoDeleteFlavor.capabilities = NoDeleteFlavor.capabilities - {Capability.TRANSITION_STAGE}
    try:
        body = admin_client.get(url("registration_detail", "audit", "m")).content.decode()
    finally:
        NoDeleteFlavor.capabilities = NoDeleteFlavor.capabilities | {Capability.TRANSITION_STAGE}
    assert "Promote…" not in body


# Query counts -------------------------------------------------------------------------
def _bulk(registry, count, versions=3):
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {
                "name": f"m{i:04d}",
                "versions": [
                    {
                        "model_source_uri": f"s3://{i}/{n}",
                        "stage": "Production" if n == 0 else "None",
                        "metrics": {"accuracy": 0.5 + n / 10},
                    }
                    for n in range(versions)
                ],
            }
            for i in range(count)
        ],
    )


@pytest.mark.parametrize(
    "name,args,limit",
    [
        ("dashboard", (), 14),
        ("registration_list", (), 10),
        ("registration_detail", ("default", "m0000"), 16),
        ("version_detail", ("default", "m0000", 1), 12),
        ("registries", (), 10),
    ],
)
def test_pages_run_a_constant_number_of_queries(
    admin_client, registry, django_assert_max_num_queries, name, args, limit
):
    _bulk(registry, 1)
    with django_assert_max_num_queries(limit):
        assert admin_client.get(url(name, *args)).status_code == 200
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {"name": f"n{i:04d}", "versions": [{"model_source_uri": "s3://y", "stage": "Staging"}]}
            for i in range(60)
        ],
    )
    for number in range(4, 40):
        services.version_register(
            registry=registry,
            name="m0000",
            model_source_uri=f"s3://m/{number}",
            metrics={"accuracy": number / 100},
            user=None,
        )
    for version in ModelVersion.objects.filter(registration__name="m0000")[:10]:
        services.version_transition_stage(version=version, stage="Staging", user=None)
        services.alias_set(version=version, alias=f"a{version.version}", user=None)
    with django_assert_max_num_queries(limit):
        assert admin_client.get(url(name, *args)).status_code == 200


def test_registries_page_starts_a_sync_and_shows_its_outcome(
    admin_client, mlflow_registry, mlflow_server, django_capture_on_commit_callbacks
):
    from mlflow import MlflowClient

    MlflowClient(
        tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url
    ).create_registered_model("from-mlflow")
    body = admin_client.get(url("registries")).content.decode()
    assert "Sync now" in body and "the dashboard is its store" in body
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("registry_sync", "mlflow-test"), **HTMX)
    assert b"Sync of mlflow-test started" in response.content
    body = admin_client.get(url("registries"), **HTMX).content.decode()
    assert "succeeded: models +1" in body
    assert ModelRegistration.objects.filter(name="from-mlflow").exists()
    response = admin_client.post(url("registry_sync", "default"), follow=True)
    assert b"Sync not started" in response.content and b"cannot sync" in response.content


# Run links come from the registry's flavor ---------------------------------------------
def _version_with_run(registry):
    """A version row with a run id (rows only: the page reads the index, not the backend)."""
    registration = ModelRegistration.objects.create(registry=registry, name="m")
    return ModelVersion.objects.create(
        registration=registration, version=1, model_source_uri="s3://x", experiment_run_id="r7"
    )


def test_an_mlflow_run_link_uses_the_registry_ui_uri(admin_client):
    registry = services.registry_create(
        name="ml",
        flavor="mlflow",
        config={"tracking_uri": "http://tracking.internal:5000", "ui_uri": "https://ml.example/"},
        user=None,
    )
    page = admin_client.get(_version_with_run(registry).get_absolute_url()).content.decode()
    assert 'href="https://ml.example/#/runs/r7"' in page
    assert "tracking.internal" not in page and "/#/experiments/0/" not in page


def test_a_custom_flavor_gives_its_own_run_link(admin_client):
    registry = services.registry_create(name="own", flavor="run-pages", user=None)
    page = admin_client.get(_version_with_run(registry).get_absolute_url()).content.decode()
    assert 'href="https://runs.example/r/r7"' in page


def test_a_flavor_without_run_pages_shows_the_run_id_without_a_link(admin_client, registry):
    page = admin_client.get(_version_with_run(registry).get_absolute_url()).content.decode()
    assert ">r7<" in page and "#/runs/" not in page and "runs.example" not in page
