"""The real MLflow client (the pinned version) against the dashboard's MLflow-compatible API."""

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelRegistration, ModelVersion, Registry, StageTransition
from tests import example_models
from tests.conftest import grant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("mlops", password="mlops-pass-123")


@pytest.fixture
def client(live_server, admin, monkeypatch):
    _, token = services.token_create(owner=admin, user=None)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)


def error_code(excinfo) -> str:
    return excinfo.value.error_code


def test_the_documented_registry_workflow_end_to_end(client):
    client.create_registered_model("churn", tags={"team": "growth"}, description="Churn model")
    for n in (1, 2, 3):
        created = client.create_model_version(
            "churn",
            f"s3://bucket/churn/{n}",
            run_id=f"run-{n}",
            tags={"dataset": f"w{n}"},
            run_link=f"http://mlflow/#/runs/run-{n}",
            description=f"v{n}",
        )
        assert created.version == str(n) and created.current_stage == "None"
    model = client.get_registered_model("churn")
    assert (model.description, model.tags) == ("Churn model", {"team": "growth"})
    version = client.get_model_version("churn", "2")
    assert (version.source, version.run_id, version.tags, version.run_link) == (
        "s3://bucket/churn/2",
        "run-2",
        {"dataset": "w2"},
        "http://mlflow/#/runs/run-2",
    )

    client.transition_model_version_stage("churn", "1", "Production")
    client.transition_model_version_stage(
        "churn", "2", "Production"
    )  # without archiving: both stay
    assert {v.version for v in client.get_latest_versions("churn", stages=["Production"])} == {"2"}
    client.transition_model_version_stage(
        "churn", "3", "production", archive_existing_versions=True
    )
    stages = {v.version: v.current_stage for v in client.search_model_versions("name='churn'")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}
    latest = client.get_latest_versions("churn")
    assert {(v.version, v.current_stage) for v in latest} == {
        ("2", "Archived"),
        ("3", "Production"),
    }

    client.set_registered_model_alias("churn", "champion", "3")
    assert client.get_model_version_by_alias("churn", "champion").version == "3"
    assert client.get_registered_model("churn").aliases == {"champion": "3"}
    client.delete_registered_model_alias("churn", "champion")
    assert client.get_registered_model("churn").aliases == {}

    client.set_registered_model_tag("churn", "owner", "al")
    client.delete_registered_model_tag("churn", "team")
    assert client.get_registered_model("churn").tags == {"owner": "al"}
    client.set_model_version_tag("churn", "3", "validated", "true")
    client.delete_model_version_tag("churn", "3", "dataset")
    assert client.get_model_version("churn", "3").tags == {"validated": "true"}
    client.update_registered_model("churn", description="Predicts churn")
    client.update_model_version("churn", "3", description="the good one")
    assert client.get_model_version("churn", "3").description == "the good one"
    assert client.get_model_version_download_uri("churn", "3") == "s3://bucket/churn/3"

    client.rename_registered_model("churn", "churn-v2")
    assert client.get_registered_model("churn-v2").latest_versions[-1].version == "3"
    client.delete_model_version("churn-v2", "1")
    assert [
        v.version
        for v in client.search_model_versions("name='churn-v2'", order_by=["version_number ASC"])
    ] == ["2", "3"]

    # What the client did is in the dashboard's own records.
    registration = ModelRegistration.objects.get(name="churn-v2")
    assert registration.description == "Predicts churn"
    version = ModelVersion.objects.get(registration=registration, version=3)
    assert (version.experiment_run_id, version.model_source_uri, version.created_by.username) == (
        "run-3",
        "s3://bucket/churn/3",
        "mlops",
    )
    archived = StageTransition.objects.filter(
        registration=registration, cause="archived_by_promotion"
    )
    assert {t.version_number for t in archived} == {1, 2}
    client.delete_registered_model("churn-v2")
    assert not ModelRegistration.objects.exists()


def test_search_filters_and_paging(client):
    for n in range(5):
        client.create_registered_model(f"model-{n}", tags={"team": "a" if n % 2 else "b"})
        client.create_model_version(f"model-{n}", f"s3://b/{n}", run_id=f"r{n}")
    client.create_registered_model("other")
    names, token = [], None
    while True:
        page = client.search_registered_models(
            filter_string="name LIKE 'model-%'", max_results=2, page_token=token
        )
        names += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert names == [f"model-{n}" for n in range(5)]
    assert [m.name for m in client.search_registered_models("name ILIKE 'MODEL-1%'")] == ["model-1"]
    assert [m.name for m in client.search_registered_models("tags.team = 'a'")] == [
        "model-1",
        "model-3",
    ]
    assert "other" not in [m.name for m in client.search_registered_models("name != 'other'")]
    assert [
        m.name for m in client.search_registered_models(order_by=["name DESC"], max_results=1)
    ] == ["other"]
    found = client.search_model_versions("run_id IN ('r1', 'r3')")
    assert sorted(v.name for v in found) == ["model-1", "model-3"]
    assert [v.name for v in client.search_model_versions("source_path = 's3://b/4'")] == ["model-4"]
    assert len(client.search_model_versions("version_number = 1")) == 5
    page = client.search_model_versions(max_results=2)
    assert len(page) == 2 and page.token


@pytest.mark.parametrize(
    "call,code",
    [
        (lambda c: c.get_registered_model("ghost"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.get_model_version("ghost", "1"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.create_registered_model("dup"), "RESOURCE_ALREADY_EXISTS"),
        (lambda c: c.search_registered_models("name = "), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.search_registered_models("colour = 'red'"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.search_model_versions("run_id ~ 'x'"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.transition_model_version_stage("dup", "1", "Live"), "INVALID_PARAMETER_VALUE"),
        (lambda c: c.create_model_version("ghost", "s3://x"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda c: c.create_registered_model("a/b"), "INVALID_PARAMETER_VALUE"),
    ],
)
def test_errors_raise_the_clients_normal_exceptions(client, call, code):
    client.create_registered_model("dup")
    client.create_model_version("dup", "s3://dup/1")
    with pytest.raises(MlflowException) as excinfo:
        call(client)
    assert error_code(excinfo) == code


def test_basic_auth_and_permissions_map_to_users(live_server, django_user_model, monkeypatch):
    user = grant(
        django_user_model.objects.create_user("dev", password="dev-pass-123"),
        "add_modelregistration",
        "add_modelversion",
        "change_modelversion",
    )
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "dev")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "dev-pass-123")
    client = MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)
    # Created by someone else: its creator would own it, and owners may promote.
    services.registration_create(registry=Registry.objects.get(name="default"), name="m", user=None)
    client.create_model_version("m", "s3://m/1")
    client.transition_model_version_stage("m", "1", "Staging")
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage("m", "1", "Production")
    assert error_code(excinfo) == "PERMISSION_DENIED"
    assert StageTransition.objects.get().actor == user
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(MlflowException) as excinfo:
        MlflowClient(
            tracking_uri=live_server.url, registry_uri=live_server.url
        ).get_registered_model("m")
    assert error_code(excinfo) == "UNAUTHENTICATED"


def test_the_ajax_api_path_and_anonymous_requests(live_server, admin):
    anonymous = APIClient()
    response = anonymous.get("/api/2.0/mlflow/registered-models/search")
    assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHENTICATED"
    signed_in = APIClient()
    signed_in.force_authenticate(admin)
    assert signed_in.get("/ajax-api/2.0/mlflow/registered-models/search").json() == {
        "registered_models": []
    }
    response = signed_in.get("/api/2.0/mlflow/experiments/list")
    assert response.status_code == 404 and response.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_a_pipeline_registers_with_mlflow_register_model(
    client, mlflow_server, live_server, monkeypatch
):
    """The run lives on a real MLflow tracking server; the dashboard is the registry."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", live_server.url)
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_registry_uri(live_server.url)
    try:
        with mlflow.start_run() as run:
            mlflow.log_param("n", 5)
            mlflow.pyfunc.log_model(
                name="model", python_model=example_models.AddN(5), pip_requirements=["mlflow"]
            )
        registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", "pipeline-model")
        assert registered.version == "1"
        version = ModelVersion.objects.get(registration__name="pipeline-model")
        assert version.experiment_run_id == run.info.run_id
        assert version.model_source_uri  # the artifact URI MLflow resolved for the run's model
        MlflowClient().transition_model_version_stage("pipeline-model", "1", "Production")
        model = mlflow.pyfunc.load_model("models:/pipeline-model/Production")
        assert list(model.predict(pd.DataFrame({"x": [1.0]}))) == [6.0]
        body = APIClient()
        body.force_authenticate(ModelVersion.objects.get().created_by)
        api = body.get(
            "/api/v1/models/default/pipeline-model/versions/latest/?stage=Production"
        ).json()
        assert api["experiment_run_id"] == run.info.run_id and api["stage"] == "Production"
    finally:
        mlflow.set_registry_uri(None)
        mlflow.set_tracking_uri(None)
