"""The pipeline client and step against a live server, and loading a real MLflow model back."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from models_app import services
from models_app.client import (
    ConflictError,
    NotFoundError,
    RegistryAPIError,
    RegistryClient,
    register_model_step,
)
from models_app.models import ModelVersion, StageTransition
from tests import example_models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(live_server, django_user_model, transactional_db):
    admin = django_user_model.objects.create_superuser("pipeline", password="pipeline-pass-123")
    _, secret = services.token_create(owner=admin, user=None)
    return RegistryClient(live_server.url, token=secret)


def test_the_client_module_imports_without_django():
    code = "import sys, models_app.client; print('django' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


def test_a_pipeline_registers_promotes_and_resolves(client):
    first = client.register_model_version(
        "churn",
        "s3://b/churn/1",
        metrics={"auc": 0.8},
        parameters={"lr": 0.1},
        pipeline_name="train",
        pipeline_run_id="r1",
        step_name="fit",
        experiment_run_id="e1",
        code_version="c1",
    )
    second = client.register_model_version("churn", "s3://b/churn/2", metrics={"auc": 0.9})
    assert (first["version"], second["version"]) == (1, 2)
    client.transition_stage("churn", 1, "Production")
    promoted = client.transition_stage(
        "churn", 2, "Production", archive_existing=True, comment="better"
    )
    assert promoted["stage"] == "Production"
    assert client.get_model_version("churn", 1)["stage"] == "Archived"
    assert client.resolve("churn", stage="Production")["version"] == 2
    client.set_alias("churn", "champion", 2)
    assert client.resolve("churn", alias="champion")["model_source_uri"] == "s3://b/churn/2"
    assert client.resolve("churn", version=1)["parameters"] == {"lr": "0.1"}
    assert [h["to_stage"] for h in client.history("churn") if not h["alias"]] == [
        "Archived",
        "Production",
        "Production",
    ]
    assert [v["version"] for v in client.list_model_versions("churn", metric=["auc>=0.85"])] == [2]
    assert [v["name"] for v in client.search_versions(stage="Production")] == ["churn"]
    assert [m["name"] for m in client.list_models(q="chu")] == ["churn"]
    client.update_model("churn", description="Churn model", tags={"team": "growth"})
    assert client.get_model("churn")["tags"] == {"team": "growth"}
    client.update_model_version("churn", 2, metrics={"f1": 0.7})
    assert client.get_model_version("churn", 2)["metrics"] == {"auc": 0.9, "f1": 0.7}
    client.delete_alias("churn", "champion")
    client.delete_model_version("churn", 1)
    assert [v["version"] for v in client.list_model_versions("churn")] == [2]


def test_errors_come_back_as_exceptions_with_their_fields(client):
    with pytest.raises(NotFoundError):
        client.get_model("ghost")
    client.register_model("fraud")
    with pytest.raises(ConflictError):
        client.register_model("fraud")
    with pytest.raises(RegistryAPIError) as excinfo:
        client.register_model_version("fraud", "", metrics={"auc": "high"})
    assert excinfo.value.status == 400
    assert {"model_source_uri", "metrics"} <= set(excinfo.value.errors)


def test_lists_follow_every_page(client, registry):
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[{"name": f"m{i:04d}", "versions": []} for i in range(510)],
    )
    assert len(client.list_models()) == 510


def test_names_with_spaces_and_symbols_round_trip(client):
    client.register_model_version("team a-b?", "s3://x")
    assert client.get_model("team a-b?")["name"] == "team a-b?"


def test_register_model_step_takes_lineage_from_the_environment(client, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "nightly_training")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "scheduled__2026-11-26")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "train_model")
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc123")
    monkeypatch.setenv("GIT_COMMIT", "9f1c2e")
    registered = register_model_step(
        "churn",
        "s3://b/churn/1",
        metrics={"auc": 0.91},
        parameters={"depth": 6},
        stage="Staging",
        client=client,
    )
    assert registered["stage"] == "Staging"
    version = ModelVersion.objects.get()
    assert version.lineage == {
        "pipeline_name": "nightly_training",
        "pipeline_run_id": "scheduled__2026-11-26",
        "step_name": "train_model",
        "experiment_run_id": "abc123",
        "code_version": "9f1c2e",
    }
    assert StageTransition.objects.get().actor_name == "pipeline"


def test_load_model_loads_a_real_mlflow_model_by_stage(client, tmp_path):
    path = example_models.save(tmp_path / "add10", n=10)
    client.register_model_version("adder", path, model_format="mlflow", model_library="pyfunc")
    other = example_models.save(tmp_path / "add100", n=100)
    client.register_model_version("adder", other)  # found to be MLflow by its MLmodel file
    client.transition_stage("adder", 1, "Production")
    client.set_alias("adder", "challenger", 2)
    production = client.load_model("adder", stage="Production")
    assert list(production.predict(pd.DataFrame({"x": [1.0, 2.0]}))) == [11.0, 12.0]
    challenger = client.load_model("adder", alias="challenger")
    assert list(challenger.predict(pd.DataFrame({"x": [1.0]}))) == [101.0]


def test_load_model_returns_the_uri_of_a_non_mlflow_artifact(client):
    client.register_model_version("onnx-model", "s3://bucket/model.onnx", model_format="onnx")
    assert client.load_model("onnx-model", version=1) == "s3://bucket/model.onnx"
