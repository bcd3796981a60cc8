"""Conformance suite: what every flavor must do, checked through the services and then in the
flavor's own backend. Runs for mlflow (a real server) and the example dict flavor; builtin, whose
backend is the index, has its own read check.

Check your own flavor by pointing the suite at it:

    FLAVOR_UNDER_TEST=mypackage.flavors.MyFlavor FLAVOR_CONFIG='{"url": "..."}' \\
        .venv/bin/python -m pytest tests/test_flavor_conformance.py -k custom
"""

import json
import os

import pytest

from models_app import selectors, services
from models_app.exceptions import NotFound
from models_app.flavors import Capability
from models_app.models import ModelRegistration, ModelVersion
from tests.example_flavors import DictFlavor

# Flavors with a backend of their own. The builtin flavor's backend is the index itself, so
# "reaches the backend" would compare the database with itself: it has its own test below.
FLAVORS = ["mlflow", "dict"]
if os.environ.get("FLAVOR_UNDER_TEST"):
    FLAVORS.append("custom")


@pytest.fixture(params=FLAVORS)
def registry(request):
    return _registry_for(request.param, request)


def backend(registry):
    return registry.get_flavor()


def register(registry, name="conf", **kwargs):
    number = (
        ModelVersion.objects.filter(
            registration__registry=registry, registration__name=name
        ).count()
        + 1
    )
    kwargs.setdefault("model_source_uri", f"s3://bucket/{name}/{number}")
    return services.version_register(registry=registry, name=name, user=None, **kwargs)


def test_the_flavor_implements_every_capability_it_declares(registry):
    assert type(backend(registry)).missing_methods() == {}


def test_versions_are_numbered_alike_here_and_in_the_backend(registry):
    v1, v2 = register(registry), register(registry)
    assert (v1.version, v2.version) == (1, 2)
    assert backend(registry).get_model(name="conf").name == "conf"
    remote = backend(registry).get_model_version(name="conf", version=2)
    assert (remote.version, remote.model_source_uri) == (2, "s3://bucket/conf/2")
    assert sorted(v.version for v in backend(registry).list_model_versions(name="conf")) == [1, 2]


def test_metrics_parameters_and_lineage_reach_the_backend(registry):
    register(
        registry,
        metrics={"auc": 0.91},
        parameters={"depth": "6"},
        pipeline_name="train",
        experiment_run_id="run-1",
        code_version="9f1c",
        description="first",
    )
    remote = backend(registry).get_model_version(name="conf", version=1)
    assert remote.metrics == {"auc": 0.91} and remote.parameters == {"depth": "6"}
    assert (remote.pipeline_name, remote.experiment_run_id, remote.code_version) == (
        "train",
        "run-1",
        "9f1c",
    )
    assert remote.description == "first"


def test_updates_reach_the_backend(registry):
    version = register(registry)
    services.registration_update(
        registration=version.registration, description="Churn", tags={"team": "a"}, user=None
    )
    services.version_update(
        version=version, description="v1", tags={"k": "v"}, metrics={"f1": 0.5}, user=None
    )
    model = backend(registry).get_model(name="conf")
    assert (model.description, dict(model.tags)) == ("Churn", {"team": "a"})
    remote = backend(registry).get_model_version(name="conf", version=1)
    assert (remote.description, dict(remote.tags), dict(remote.metrics)) == (
        "v1",
        {"k": "v"},
        {"f1": 0.5},
    )


def test_stages_with_archive_existing_agree_with_the_backend(registry):
    v1, v2, v3 = register(registry), register(registry), register(registry)
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_transition_stage(version=v2, stage="Staging", user=None)
    services.version_transition_stage(
        version=v3, stage="Production", archive_existing=True, user=None
    )
    local = dict(
        ModelVersion.objects.filter(registration__registry=registry).values_list("version", "stage")
    )
    remote = {v.version: v.stage for v in backend(registry).list_model_versions(name="conf")}
    assert local == remote == {1: "Archived", 2: "Staging", 3: "Production"}
    latest = backend(registry).get_latest_model_version(name="conf", stage="Production")
    assert (
        latest.version
        == selectors.version_latest(registration=v1.registration, stage="Production").version
        == 3
    )


def test_aliases_agree_with_the_backend(registry):
    v1, v2 = register(registry), register(registry)
    services.alias_set(version=v1, alias="champion", user=None)
    services.alias_set(version=v2, alias="champion", user=None)
    assert backend(registry).get_model_version(name="conf", version=2).aliases == ("champion",)
    assert backend(registry).get_model_version(name="conf", version=1).aliases == ()
    services.alias_delete(registration=v1.registration, alias="champion", user=None)
    assert backend(registry).get_model_version(name="conf", version=2).aliases == ()


def test_rename_and_deletes_reach_the_backend(registry):
    v1, _ = register(registry), register(registry)
    services.version_delete(version=v1, user=None)
    # In the trash the backend keeps it, so a restore gives back the same numbers...
    assert backend(registry).get_model_version(name="conf", version=1).version == 1
    services.version_purge(version=v1, user=None)  # ...and a purge deletes it there
    with pytest.raises(NotFound):
        backend(registry).get_model_version(name="conf", version=1)
    services.registration_rename(registration=v1.registration, new_name="renamed", user=None)
    assert backend(registry).get_model(name="renamed").name == "renamed"
    registration = ModelRegistration.objects.get(registry=registry)
    services.registration_delete(registration=registration, user=None)
    assert backend(registry).get_model(name="renamed").name == "renamed"
    services.registration_purge(registration=registration, user=None)
    with pytest.raises(NotFound):
        backend(registry).get_model(name="renamed")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_sync_is_idempotent_and_picks_up_changes_made_in_the_backend(flavor, request):
    registry = _registry_for(flavor, request)
    assert backend(registry).supports(Capability.SYNC)
    _v1, _v2 = register(registry), register(registry)
    first = services.registry_sync(registry=registry, user=None)
    assert (
        first.models_created,
        first.versions_created,
        first.versions_updated,
        first.versions_removed,
    ) == (0, 0, 0, 0)
    # A change made in the backend directly, as another tool would.
    backend(registry).transition_stage(
        name="conf", version=2, stage="Staging", archive_existing=False
    )
    backend(registry).delete_model_version(name="conf", version=1)
    second = services.registry_sync(registry=registry, user=None)
    assert (second.versions_updated, second.versions_removed) == (1, 1)
    assert list(
        ModelVersion.objects.filter(registration__registry=registry).values_list("version", "stage")
    ) == [(2, "Staging")]
    third = services.registry_sync(registry=registry, user=None)
    assert (third.versions_created, third.versions_updated, third.versions_removed) == (0, 0, 0)


def test_the_builtin_flavor_answers_reads_with_what_the_services_wrote(request):
    """Builtin has no backend apart from the index: its reads are checked against the values
    written, each read method once, and it declares that it has nothing to sync."""
    registry = _registry_for("builtin", request)
    flavor = backend(registry)
    assert not flavor.supports(Capability.SYNC)
    v1 = register(registry, metrics={"auc": 0.91}, parameters={"depth": "6"}, pipeline_name="p")
    v2, v3 = register(registry), register(registry)
    services.registration_update(
        registration=v1.registration, description="Churn", tags={"team": "a"}, user=None
    )
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_transition_stage(
        version=v3, stage="Production", archive_existing=True, user=None
    )
    services.alias_set(version=v2, alias="champion", user=None)
    model = flavor.get_model(name="conf")
    assert (model.name, model.description, dict(model.tags)) == ("conf", "Churn", {"team": "a"})
    assert [m.name for m in flavor.list_models()] == ["conf"]
    first = flavor.get_model_version(name="conf", version=1)
    assert (first.metrics, first.parameters, first.pipeline_name, first.stage) == (
        {"auc": 0.91},
        {"depth": "6"},
        "p",
        "Archived",
    )
    assert flavor.get_model_version(name="conf", version=2).aliases == ("champion",)
    assert {v.version: v.stage for v in flavor.list_model_versions(name="conf")} == {
        1: "Archived",
        2: "None",
        3: "Production",
    }
    assert flavor.get_latest_model_version(name="conf", stage="Production").version == 3
    services.registration_rename(registration=v1.registration, new_name="renamed", user=None)
    with pytest.raises(NotFound):
        flavor.get_model(name="conf")
    assert flavor.get_model(name="renamed").name == "renamed"


def _registry_for(flavor, request):
    config, path = {}, flavor
    if flavor == "mlflow":
        server = request.getfixturevalue("mlflow_server")
        server.wipe()
        config = {"tracking_uri": server.url}
    elif flavor == "dict":
        DictFlavor.stores.clear()
    elif flavor == "custom":
        request.getfixturevalue("db")
        path = services.flavor_register(
            class_path=os.environ["FLAVOR_UNDER_TEST"], name="under-test", user=None
        ).name
        config = json.loads(os.environ.get("FLAVOR_CONFIG", "{}"))
    request.getfixturevalue("db")
    return services.registry_create(
        name=f"conformance-{flavor}", flavor=path, config=config, user=None
    )
