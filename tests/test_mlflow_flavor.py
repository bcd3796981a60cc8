"""The mlflow flavor against a real MLflow server: write-through, sync both ways, failures."""

from io import StringIO

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from mlflow import MlflowClient
from rest_framework.test import APIClient

from models_app import services
from models_app.exceptions import BackendError, Conflict
from models_app.flavors import mlflow as mlflow_flavor
from models_app.models import ModelAlias, ModelRegistration, ModelVersion, StageTransition, SyncRun
from tests import example_models
from tests.mlflow_server import MlflowServer, free_port


@pytest.fixture
def remote(mlflow_server):
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


def register(registry, name="churn", **kwargs):
    kwargs.setdefault("model_source_uri", f"s3://bucket/{name}/model")
    return services.version_register(registry=registry, name=name, user=None, **kwargs)


# Write-through -----------------------------------------------------------------------
def test_registering_writes_through_with_lineage_and_metrics(mlflow_registry, remote):
    version = register(
        mlflow_registry,
        metrics={"auc": 0.91},
        parameters={"depth": 6},
        metadata={"rows": 10},
        tags={"team": "risk"},
        description="first",
        experiment_run_id="run-abc",
        pipeline_name="train",
        code_version="9f1c",
        model_library="sklearn",
    )
    assert version.version == 1
    found = remote.get_model_version("churn", "1")
    assert (found.source, found.run_id, found.description) == (
        "s3://bucket/churn/model",
        "run-abc",
        "first",
    )
    assert found.tags["team"] == "risk"
    assert found.tags["mr.metric.auc"] == "0.91" and found.tags["mr.pipeline_name"] == "train"
    info = mlflow_registry.get_flavor().get_model_version(name="churn", version=1)
    assert (
        info.metrics == {"auc": 0.91}
        and info.parameters == {"depth": "6"}
        and info.metadata == {"rows": 10}
    )
    assert (info.pipeline_name, info.code_version, info.model_library) == (
        "train",
        "9f1c",
        "sklearn",
    )


def test_a_promotion_in_the_dashboard_is_visible_in_mlflow(mlflow_registry, remote):
    v1, v2 = register(mlflow_registry), register(mlflow_registry)
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_transition_stage(
        version=v2, stage="Production", archive_existing=True, user=None
    )
    stages = {v.version: v.current_stage for v in remote.search_model_versions("name='churn'")}
    assert stages == {"1": "Archived", "2": "Production"}
    assert dict(ModelVersion.objects.values_list("version", "stage")) == {
        1: "Archived",
        2: "Production",
    }


def test_description_tags_metrics_aliases_and_deletes_write_through(mlflow_registry, remote):
    v1, v2 = register(mlflow_registry, metrics={"auc": 0.8}), register(mlflow_registry)
    services.registration_update(
        registration=v1.registration, description="Churn", tags={"team": "growth"}, user=None
    )
    services.version_update(
        version=v1, description="d1", tags={"k": "v"}, metrics={"auc": 0.85, "f1": 0.5}, user=None
    )
    services.alias_set(version=v2, alias="champion", user=None)
    model = remote.get_registered_model("churn")
    assert (model.description, model.tags, model.aliases) == (
        "Churn",
        {"team": "growth"},
        {"champion": "2"},
    )
    found = remote.get_model_version("churn", "1")
    assert (
        found.description == "d1" and found.tags["k"] == "v" and found.tags["mr.metric.f1"] == "0.5"
    )
    services.alias_delete(registration=v1.registration, alias="champion", user=None)
    assert remote.get_registered_model("churn").aliases == {}
    services.version_delete(version=v1, user=None)  # to the trash: MLflow keeps it till purged
    assert sorted(v.version for v in remote.search_model_versions("name='churn'")) == ["1", "2"]
    services.version_purge(version=v1, user=None)
    assert [v.version for v in remote.search_model_versions("name='churn'")] == ["2"]
    services.registration_rename(registration=v1.registration, new_name="churn2", user=None)
    assert remote.get_registered_model("churn2").name == "churn2"
    registration = ModelRegistration.objects.get()
    services.registration_delete(registration=registration, user=None)
    assert [m.name for m in remote.search_registered_models()] == ["churn2"]
    services.registration_purge(registration=registration, user=None)
    assert remote.search_registered_models() == []


def test_mlflow_refusing_a_write_changes_nothing_locally(mlflow_registry, remote):
    remote.create_registered_model("taken")
    services.version_register(
        registry=mlflow_registry, name="taken", model_source_uri="s3://bucket/x", user=None
    )
    # MLflow refuses a local path outside any run's artifacts: a refusal, reported as a conflict.
    with pytest.raises(Conflict, match="MLflow refused"):
        services.version_register(
            registry=mlflow_registry, name="taken", model_source_uri="/tmp/not-a-run", user=None
        )
    assert ModelVersion.objects.count() == 1


def test_a_config_with_credentials_is_refused(db, mlflow_server):
    with pytest.raises(ValidationError, match="credential"):
        services.registry_create(
            name="x",
            flavor="mlflow",
            config={"tracking_uri": mlflow_server.url, "password": "hunter2"},
            user=None,
        )
    with pytest.raises(ValidationError, match="tracking_uri"):
        services.registry_create(name="x", flavor="mlflow", config={}, user=None)


def test_loading_an_mlflow_registry_version_through_models_uri(mlflow_registry, mlflow_server):
    mlflow.set_tracking_uri(mlflow_server.url)
    with mlflow.start_run() as run:
        logged = mlflow.pyfunc.log_model(
            name="model", python_model=example_models.AddN(5), pip_requirements=["mlflow"]
        )
    version = services.version_register(
        registry=mlflow_registry,
        name="adder",
        model_source_uri=logged.model_uri,
        experiment_run_id=run.info.run_id,
        model_format="mlflow",
        user=None,
    )
    model = mlflow_registry.get_flavor().load_model_version(name="adder", version=version.version)
    assert list(model.predict(pd.DataFrame({"x": [1.0]}))) == [6.0]
    direct = mlflow.pyfunc.load_model(f"models:/adder/{version.version}")
    assert list(direct.predict(pd.DataFrame({"x": [2.0]}))) == [7.0]


# Sync --------------------------------------------------------------------------------
def populate(remote, models=5, versions=3):
    for m in range(models):
        name = f"remote-{m}"
        remote.create_registered_model(name, tags={"origin": "mlflow"}, description=f"model {m}")
        for n in range(versions):
            remote.create_model_version(
                name,
                f"s3://remote/{name}/{n}",
                run_id=f"run{m}{n}",
                tags={"mr.metric.auc": str(0.5 + n / 10)},
                await_creation_for=0,
            )
        remote.transition_model_version_stage(name, str(versions), "Production")
        remote.set_registered_model_alias(name, "champion", str(versions))


def test_sync_brings_every_model_in_across_pages_and_is_idempotent(
    mlflow_registry, remote, monkeypatch
):
    monkeypatch.setattr(mlflow_flavor, "PAGE_SIZE_MODELS", 2)
    monkeypatch.setattr(mlflow_flavor, "PAGE_SIZE_VERSIONS", 4)
    populate(remote)
    pages = []
    run = services.registry_sync(
        registry=mlflow_registry, user=None, progress=lambda r: pages.append(r.versions_seen)
    )
    assert run.status == "succeeded" and run.models_seen == 5 and run.versions_seen == 15
    assert (run.models_created, run.versions_created, run.models_removed) == (5, 15, 0)
    assert len(pages) >= 3 + 4  # several pages of each, never only the first
    assert ModelRegistration.objects.filter(registry=mlflow_registry).count() == 5
    version = ModelVersion.objects.get(registration__name="remote-3", version=3)
    assert (version.stage, version.experiment_run_id, version.metrics) == (
        "Production",
        "run32",
        {"auc": 0.7},
    )
    assert ModelAlias.objects.get(registration__name="remote-3").version == version
    assert version.created_at.year >= 2026
    again = services.registry_sync(registry=mlflow_registry, user=None)
    assert (
        again.models_created,
        again.models_updated,
        again.models_removed,
        again.versions_created,
        again.versions_updated,
        again.versions_removed,
    ) == (0, 0, 0, 0, 0, 0)
    mlflow_registry.refresh_from_db()
    assert mlflow_registry.last_synced_at is not None


def test_changes_made_in_mlflow_appear_after_the_next_sync(mlflow_registry, remote):
    populate(remote, models=2, versions=2)
    services.registry_sync(registry=mlflow_registry, user=None)
    remote.transition_model_version_stage("remote-0", "1", "Staging")
    remote.update_registered_model("remote-0", description="changed in MLflow")
    remote.delete_model_version("remote-0", "2")
    remote.delete_registered_model("remote-1")
    remote.create_registered_model("remote-new")
    run = services.registry_sync(registry=mlflow_registry, user=None)
    assert (run.models_created, run.models_updated, run.models_removed) == (1, 1, 1)
    assert (run.versions_updated, run.versions_removed) == (1, 1)
    registration = ModelRegistration.objects.get(name="remote-0")
    assert registration.description == "changed in MLflow"
    assert list(registration.versions.values_list("version", "stage")) == [(1, "Staging")]
    record = StageTransition.objects.get(registration=registration, version_number=1)
    assert (record.from_stage, record.to_stage, record.cause, record.actor_name) == (
        "None",
        "Staging",
        "sync",
        "sync",
    )
    assert not ModelRegistration.objects.filter(name="remote-1").exists()


def test_sync_from_the_api_runs_as_a_task_and_reports_counts(
    mlflow_registry, remote, django_user_model, django_capture_on_commit_callbacks
):
    populate(remote, models=2, versions=1)
    client = APIClient()
    client.force_authenticate(
        django_user_model.objects.create_superuser("ops", password="ops-pass-123")
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/registries/mlflow-test/sync/", format="json")
    assert response.status_code == 202
    body = client.get(response.json()["url"]).json()
    assert (
        body["status"] == "succeeded"
        and body["models_created"] == 2
        and body["versions_created"] == 2
    )
    outsider = APIClient()
    outsider.force_authenticate(
        django_user_model.objects.create_user("eve", password="eve-pass-123")
    )
    assert outsider.post("/api/v1/registries/mlflow-test/sync/", format="json").status_code == 403


def test_sync_from_the_command_line_shows_progress_and_counts(mlflow_registry, remote):
    populate(remote, models=2, versions=2)
    out, err = StringIO(), StringIO()
    call_command("model_registry", "sync", "mlflow-test", stdout=out, stderr=err)
    assert "models +2" in out.getvalue() and "versions +4" in out.getvalue()
    assert "version" in err.getvalue()  # the progress bar


def test_builtin_registries_cannot_sync(db):
    with pytest.raises(CommandError, match="cannot sync"):
        call_command("model_registry", "sync", "default", stdout=StringIO(), stderr=StringIO())


# Failures ----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_an_unreachable_mlflow_is_a_clear_error_and_nothing_local_changes(django_user_model):
    registry = services.registry_create(
        name="down",
        flavor="mlflow",
        config={"tracking_uri": f"http://127.0.0.1:{free_port()}"},
        user=None,
    )
    with pytest.raises(BackendError, match="unreachable|failed"):
        services.version_register(registry=registry, name="m", model_source_uri="s3://x", user=None)
    assert not ModelRegistration.objects.exists()
    client = APIClient()
    client.force_authenticate(
        django_user_model.objects.create_superuser("ops", password="ops-pass-123")
    )
    response = client.post(
        "/api/v1/models/down/m/versions/", {"model_source_uri": "s3://x"}, format="json"
    )
    assert response.status_code == 502 and "MLflow" in response.json()["detail"]
    with pytest.raises(CommandError, match="MLflow"):
        call_command(
            "model_registry",
            "models",
            "register-version",
            "m",
            "-u",
            "s3://x",
            "--registry",
            "down",
            stdout=StringIO(),
        )
    assert not ModelRegistration.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_killing_the_server_mid_operation(tmp_path, monkeypatch):
    """A sync interrupted by the server dying fails clearly; writes after it change nothing."""
    server = MlflowServer(tmp_path / "doomed").start()
    try:
        remote = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
        registry = services.registry_create(
            name="doomed", flavor="mlflow", config={"tracking_uri": server.url}, user=None
        )
        version = services.version_register(
            registry=registry, name="m", model_source_uri="s3://m/1", user=None
        )
        for n in range(30):
            remote.create_registered_model(f"bulk-{n}")
        monkeypatch.setattr(mlflow_flavor, "PAGE_SIZE_MODELS", 5)
        seen = []

        def kill_after_first_page(run):
            seen.append(run.models_seen)
            if len(seen) == 1:
                server.stop()

        with pytest.raises(BackendError):
            services.registry_sync(registry=registry, user=None, progress=kill_after_first_page)
        run = SyncRun.objects.get(registry=registry)
        assert run.status == "failed" and "MLflow" in run.error
        # Nothing was removed on the strength of a half-read backend.
        assert ModelRegistration.objects.filter(registry=registry, name="m").exists()
        with pytest.raises(BackendError):
            services.version_transition_stage(version=version, stage="Production", user=None)
        version.refresh_from_db()
        assert version.stage == "None" and not StageTransition.objects.exists()
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_and_worker_run_a_requested_sync(mlflow_server, settings):
    """The production path: a request queues the task in the database; `tasks_worker` runs it."""
    from asgiref.local import Local
    from django.tasks import task_backends

    def reset_backends():
        # The handler caches its settings and backends; make it read TASKS again.
        task_backends.__dict__.pop("settings", None)
        task_backends._settings = None
        task_backends._connections = Local()

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    reset_backends()
    try:
        mlflow_server.wipe()
        MlflowClient(
            tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url
        ).create_registered_model("queued-model")
        registry = services.registry_create(
            name="queued", flavor="mlflow", config={"tracking_uri": mlflow_server.url}, user=None
        )
        run = services.sync_request(registry=registry, user=None)
        run.refresh_from_db()
        assert run.status == "queued"
        call_command("tasks_worker", "--batch", verbosity=0)
        run.refresh_from_db()
        assert run.status == "succeeded" and run.models_created == 1
        assert ModelRegistration.objects.filter(registry=registry, name="queued-model").exists()
        with pytest.raises(Conflict):
            SyncRun.objects.filter(pk=run.pk).update(status="running")
            services.sync_request(registry=registry, user=None)
    finally:
        settings.TASKS = {
            "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
        }
        reset_backends()
