"""What MLflow and ZenML clients send becomes lineage, metrics and parameters in the dashboard.

Real MLflow client, real `mlflow server` (runs, metrics, LoggedModels), real task worker.
"""

import mlflow
import mlflow.pyfunc
import pytest
from asgiref.local import Local
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.tasks import task_backends
from mlflow import MlflowClient
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelVersion, StageTransition
from tests import example_models
from tests.mlflow_server import free_port

pytestmark = pytest.mark.django_db(transaction=True)

# What ZenML 0.98's `mlflow_register_model_step` (MLFlowModelRegistry.register_model_version)
# sends as version tags: its ModelRegistryModelMetadata fields plus the run id it found.
ZENML_TAGS = {
    "zenml_version": "0.98.0",
    "zenml_run_name": "training-2026_11_26-08_00_00_000000",
    "zenml_pipeline_name": "training",
    "zenml_pipeline_uuid": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    "zenml_pipeline_run_uuid": "a5d4faae-ef70-48f2-9893-6e65d5e51e98",
    "zenml_step_name": "register_model",
    "zenml_project": "default",
}


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("mlops", password="mlops-pass-123")


@pytest.fixture
def dashboard(live_server, admin, monkeypatch):
    """An MlflowClient whose registry is the dashboard (token auth)."""
    _, token = services.token_create(owner=admin, user=None)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)


@pytest.fixture
def tracking(mlflow_server):
    """The real tracking server, and a run on it that logged metrics, parameters and a commit."""
    client = MlflowClient(tracking_uri=mlflow_server.url)
    mlflow_server.wipe()
    experiment = client.get_experiment_by_name("Default").experiment_id
    run = client.create_run(experiment, tags={"mlflow.source.git.commit": "9f1c2ab"})
    client.log_metric(run.info.run_id, "auc", 0.5, step=0)
    client.log_metric(run.info.run_id, "auc", 0.91, step=1)  # the latest value is copied
    client.log_param(run.info.run_id, "depth", "6")
    client.set_terminated(run.info.run_id)
    return mlflow_server, run.info.run_id


def reset_task_backends():
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    task_backends._connections = Local()


@pytest.fixture
def database_queue(settings):
    """The production path: tasks wait in the database until `db_worker` runs them."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    reset_task_backends()
    yield lambda: call_command(
        "db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0
    )
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    reset_task_backends()


def test_zenml_tags_fill_the_lineage_and_stay_as_tags(dashboard, admin):
    run_id = "0123456789abcdef0123456789abcdef"
    dashboard.create_registered_model("churn")
    dashboard.create_model_version(
        "churn", "s3://bucket/churn/model", tags={**ZENML_TAGS, "mlflow_run_id": run_id}
    )
    version = ModelVersion.objects.get()
    assert (
        version.pipeline_name,
        version.pipeline_run_id,
        version.step_name,
        version.experiment_run_id,
    ) == ("training", ZENML_TAGS["zenml_pipeline_run_uuid"], "register_model", run_id)
    assert version.tags == {**ZENML_TAGS, "mlflow_run_id": run_id}
    api = APIClient()
    api.force_authenticate(admin)
    body = api.get("/api/v1/models/default/churn/versions/1/").json()
    assert (body["pipeline_name"], body["step_name"], body["experiment_run_id"]) == (
        "training",
        "register_model",
        run_id,
    )


def test_a_registered_run_brings_its_metrics_and_parameters(
    dashboard, tracking, admin, settings, database_queue, client
):
    server, run_id = tracking
    settings.MLFLOW_API_TRACKING_URI = server.url
    dashboard.create_registered_model("churn")
    dashboard.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    version = ModelVersion.objects.get()
    assert version.run_data_state == "pending" and version.metrics == {}
    database_queue()  # the worker runs the queued task
    version.refresh_from_db()
    assert version.run_data_state == "fetched"
    assert (version.metrics, version.parameters) == ({"auc": 0.91}, {"depth": "6"})
    assert version.code_version == "9f1c2ab"
    client.force_login(admin)
    page = client.get("/models/default/churn/versions/1/").content.decode()
    assert "auc" in page and "0.91" in page and "depth" in page and "9f1c2ab" in page
    api = APIClient()
    api.force_authenticate(admin)
    body = api.get("/api/v1/models/default/churn/versions/1/").json()
    assert body["metrics"] == {"auc": 0.91} and body["parameters"] == {"depth": "6"}
    assert body["run_data_state"] == "fetched"


def test_mlflow_register_model_of_a_logged_model_gets_its_run(
    dashboard, tracking, live_server, settings, monkeypatch
):
    """MLflow 3 registers `models:/m-<id>`; the run id comes from the tracking server."""
    server, _ = tracking
    settings.MLFLOW_API_TRACKING_URI = server.url
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(live_server.url)
    try:
        with mlflow.start_run() as run:
            mlflow.log_metric("rmse", 1.5)
            mlflow.log_param("alpha", "0.1")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=example_models.AddN(1), pip_requirements=["mlflow"]
            )
        mlflow.register_model(info.model_uri, "logged")
    finally:
        mlflow.set_registry_uri(None)
        mlflow.set_tracking_uri(None)
    version = ModelVersion.objects.get(registration__name="logged")
    assert version.model_source_uri == info.model_uri
    assert version.experiment_run_id == run.info.run_id
    assert (version.metrics, version.parameters) == ({"rmse": 1.5}, {"alpha": "0.1"})
    assert version.storage_location.endswith("artifacts")
    assert dashboard.get_model_version("logged", "1").run_id == run.info.run_id


def test_a_tracking_server_that_is_down_leaves_metrics_pending_until_a_retry(
    dashboard, tracking, settings
):
    server, run_id = tracking
    settings.MLFLOW_API_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # nobody listens
    dashboard.create_registered_model("churn")
    created = dashboard.create_model_version("churn", "s3://b/churn", run_id=run_id)
    assert created.version == "1"  # the registration itself succeeded
    version = ModelVersion.objects.get()
    assert version.run_data_state == "pending" and "Max retries" in version.run_data_error
    settings.MLFLOW_API_TRACKING_URI = server.url
    counts = services.run_data_fetch(version_ids=[version.pk])
    version.refresh_from_db()
    assert counts["fetched"] == 1 and version.metrics == {"auc": 0.91}
    assert version.run_data_state == "fetched" and version.run_data_error == ""


def test_the_worker_queues_a_later_try_while_the_tracking_server_is_down(
    dashboard, tracking, settings, database_queue
):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    server, run_id = tracking
    settings.MLFLOW_API_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # nobody listens
    dashboard.create_registered_model("churn")
    dashboard.create_model_version("churn", "s3://b/churn", run_id=run_id)
    database_queue()
    version = ModelVersion.objects.get()
    assert version.run_data_state == "pending"
    later = DBTaskResult.objects.get(status="READY")
    assert later.run_after > timezone.now() and later.args_kwargs["args"][1] == 2
    settings.MLFLOW_API_TRACKING_URI = server.url
    DBTaskResult.objects.filter(pk=later.pk).update(run_after=timezone.now())  # time passes
    database_queue()
    version.refresh_from_db()
    assert version.run_data_state == "fetched" and version.metrics == {"auc": 0.91}


def test_an_unknown_run_is_marked_missing_not_retried(dashboard, tracking, settings):
    server, _ = tracking
    settings.MLFLOW_API_TRACKING_URI = server.url
    dashboard.create_registered_model("churn")
    dashboard.create_model_version("churn", "s3://b/churn", run_id="f" * 32)
    assert ModelVersion.objects.get().run_data_state == "missing"


def test_without_a_tracking_server_nothing_is_pending(dashboard, settings):
    settings.MLFLOW_API_TRACKING_URI = ""
    dashboard.create_registered_model("churn")
    dashboard.create_model_version("churn", "s3://b/churn", run_id="abc")
    assert ModelVersion.objects.get().run_data_state == ""


def test_a_runs_source_must_name_the_run_given(registry):
    with pytest.raises(ValidationError) as excinfo:
        services.version_register(
            registry=registry,
            name="m",
            model_source_uri="runs:/abc/model",
            experiment_run_id="xyz",
            user=None,
        )
    assert "experiment_run_id" in excinfo.value.message_dict
    version = services.version_register(
        registry=registry, name="m", model_source_uri="runs:/abc/model", user=None
    )
    assert version.experiment_run_id == "abc"


def test_a_copy_keeps_the_storage_location_of_its_origin(registry):
    services.version_register(registry=registry, name="m", model_source_uri="s3://b/1", user=None)
    copy = services.version_register(
        registry=registry, name="copy", model_source_uri="models:/m/1", user=None
    )
    again = services.version_register(
        registry=registry, name="again", model_source_uri="models:/copy/1", user=None
    )
    assert (copy.storage_location, again.storage_location) == ("s3://b/1", "s3://b/1")


def test_sync_takes_zenml_lineage_run_data_and_the_stage_found_as_history(
    mlflow_registry, tracking
):
    server, run_id = tracking
    remote = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    remote.create_registered_model("churn")
    remote.create_model_version("churn", "s3://b/churn", run_id=run_id, tags=ZENML_TAGS)
    remote.create_model_version("churn", "s3://b/churn2")
    promoted = remote.transition_model_version_stage("churn", "1", "Production")
    services.registry_sync(registry=mlflow_registry, user=None)
    version = ModelVersion.objects.get(version=1)
    assert (version.pipeline_name, version.step_name, version.experiment_run_id) == (
        "training",
        "register_model",
        run_id,
    )
    assert version.tags == ZENML_TAGS
    assert version.run_data_state == "fetched" and version.metrics == {"auc": 0.91}
    entry = StageTransition.objects.get()
    assert (entry.version_number, entry.from_stage, entry.to_stage, entry.cause) == (
        1,
        "None",
        "Production",
        "sync",
    )
    assert int(entry.created_at.timestamp() * 1000) == promoted.last_updated_timestamp
    services.registry_sync(registry=mlflow_registry, user=None)  # nothing changes twice
    version.refresh_from_db()
    assert StageTransition.objects.count() == 1 and version.metrics == {"auc": 0.91}
