"""Writes to a remote backend (a real MLflow server): composed use cases leave MLflow and the
index in agreement when a step fails, and a slow MLflow call holds no database lock."""

import json
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.urls import reverse
from mlflow import MlflowClient
from rest_framework.test import APIClient

from models_app import selectors, services
from models_app.models import ModelRegistration, ModelVersion, StageTransition
from tests.conftest import grant
from tests.slow_proxy import SlowProxy

# MLflow refuses this tag key itself (a path that is not unique), after a rename it accepted.
KEY_MLFLOW_REFUSES = "../escape"


@pytest.fixture
def remote(mlflow_server):
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


@pytest.fixture
def churn(mlflow_registry):
    return services.version_register(
        registry=mlflow_registry, name="churn", model_source_uri="s3://b/churn", user=None
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="root-pass-123")


def _api_update(user, body):
    client = APIClient()
    client.force_authenticate(user)
    return client.patch("/api/v1/models/mlflow-test/churn/", body, format="json").status_code


def _cli_update(user, body):
    args = ["models", "update", "churn", "--registry", "mlflow-test", "--user", user.username]
    if "name" in body:
        args += ["--new-name", body["name"]]
    if "description" in body:
        args += ["-d", body["description"]]
    for key, value in body.get("tags", {}).items():
        args += ["-t", key, value]
    try:
        call_command("model_registry", *args, stdout=StringIO())
    except CommandError:
        return 409
    return 200


def _admin_update(user, body, client):
    client.force_login(user)
    registration = ModelRegistration.objects.get(name="churn")
    tags = {**registration.tags, **body.get("tags", {})}
    response = client.post(
        reverse("admin:models_app_modelregistration_change", args=[registration.pk]),
        {
            "name": body.get("name", registration.name),
            "description": body.get("description", registration.description),
            "tags": json.dumps(tags),
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    return 200 if response.status_code == 302 else 409


ENTRY_POINTS = ["api", "cli", "admin"]


def _update(entry_point, user, body, client):
    if entry_point == "api":
        return _api_update(user, body)
    if entry_point == "cli":
        return _cli_update(user, body)
    return _admin_update(user, body, client)


def _agree(remote, registry):
    """MLflow's models (name, description, tags) are exactly the index's."""
    mlflow_side = {
        m.name: (m.description or "", dict(m.tags)) for m in remote.search_registered_models()
    }
    index_side = {
        r.name: (r.description, dict(r.tags))
        for r in ModelRegistration.objects.filter(registry=registry)
    }
    return mlflow_side, index_side


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_a_rename_mlflow_refuses_changes_nothing_on_either_side(
    entry_point, churn, remote, superuser, client
):
    remote.create_registered_model("taken")  # in MLflow only, not yet synced
    status = _update(
        entry_point, superuser, {"description": "new", "name": "taken", "tags": {"t": "1"}}, client
    )
    assert status == 409
    mlflow_side, index_side = _agree(remote, churn.registration.registry)
    assert mlflow_side["churn"] == index_side["churn"] == ("", {})


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_an_update_mlflow_refuses_after_the_rename_leaves_both_sides_renamed(
    entry_point, churn, remote, superuser, client
):
    status = _update(
        entry_point, superuser, {"name": "churn2", "tags": {KEY_MLFLOW_REFUSES: "x"}}, client
    )
    assert status == 409
    mlflow_side, index_side = _agree(remote, churn.registration.registry)
    assert mlflow_side == index_side == {"churn2": ("", {})}


def test_a_refused_promotion_in_update_version_writes_nothing_anywhere(
    churn, remote, django_user_model
):
    editor = grant(
        django_user_model.objects.create_user("alice", password="alice-pass-123"),
        "change_modelversion",
    )
    # Archiving needs an approver: refused, so the description is not written either.
    with pytest.raises(CommandError, match="permission"):
        call_command(
            "model_registry",
            *("models", "update-version", "churn", "-v", "1", "-d", "better"),
            *("-s", "Archived", "--registry", "mlflow-test", "--user", editor.username),
            stdout=StringIO(),
        )
    found = remote.get_model_version("churn", "1")
    assert (found.description or "", found.current_stage) == ("", "None")
    churn.refresh_from_db()
    assert (churn.description, churn.stage) == ("", "None")
    assert not StageTransition.objects.exists()


def test_update_version_with_a_stage_reaches_mlflow_and_the_index(churn, remote):
    version = services.version_update(
        version=churn, description="better", stage="Staging", comment="ok", user=None
    )
    found = remote.get_model_version("churn", "1")
    assert (found.description, found.current_stage) == ("better", "Staging")
    version.refresh_from_db()
    assert (version.description, version.stage) == ("better", "Staging")
    assert StageTransition.objects.get().comment == "ok"


# No database lock across a network call --------------------------------------------------
@pytest.fixture
def slow_registry(mlflow_server, transactional_db):
    mlflow_server.wipe()
    proxy = SlowProxy(mlflow_server.port, delay=3).start()
    registry = services.registry_create(
        name="slow", flavor="mlflow", config={"tracking_uri": proxy.url}, user=None
    )
    yield registry, proxy
    proxy.stop()


def _in_thread(work, results):
    def run():
        try:
            results.append(work())
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_slow_mlflow_write_does_not_block_a_builtin_registry(slow_registry, mlflow_server):
    registry, proxy = slow_registry
    results = []
    thread = _in_thread(
        lambda: services.version_register(
            registry=registry,
            name="slow-model",
            model_source_uri="s3://bucket/slow/model",
            user=None,
        ),
        results,
    )
    assert proxy.write_seen.wait(30), "the MLflow write never started"
    started = time.monotonic()
    services.version_register(
        registry=selectors.registry_get(), name="fast", model_source_uri="s3://fast", user=None
    )
    services.registration_create(registry=selectors.registry_get(), name="fast-2", user=None)
    elapsed = time.monotonic() - started
    thread.join(60)
    assert elapsed < 1.5, f"a builtin write waited {elapsed:.1f} s for the slow MLflow call"
    assert isinstance(results[0], ModelVersion), results
    remote = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    assert [v.version for v in remote.search_model_versions("name='slow-model'")] == ["1"]
    assert ModelVersion.objects.filter(registration__name="slow-model").count() == 1


def test_concurrent_tag_updates_of_one_mlflow_model_lose_nothing(slow_registry, mlflow_server):
    registry, _ = slow_registry
    registration = services.registration_create(registry=registry, name="shared", user=None)
    results = []
    threads = [
        _in_thread(
            lambda key=key: services.registration_update(
                registration=registration, tags={key: "1"}, user=None
            ),
            results,
        )
        for key in ("a", "b", "c")
    ]
    for thread in threads:
        thread.join(120)
    assert all(isinstance(result, ModelRegistration) for result in results), results
    remote = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    expected = {"a": "1", "b": "1", "c": "1"}
    assert dict(remote.get_registered_model("shared").tags) == expected
    assert ModelRegistration.objects.get(name="shared").tags == expected
