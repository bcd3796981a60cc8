"""Bulk creation (seeding, imports): the rules of a single create, in one transaction."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from models_app import selectors, services
from models_app.exceptions import CapabilityNotSupported, Conflict
from models_app.models import ModelRegistration, ModelVersion

FULL_VERSION = {
    "model_source_uri": "s3://b/m/1",
    "description": "first",
    "tags": {"epochs": 3, "final": True},
    "metrics": {"auc": 1},
    "parameters": {"lr": 0.01, "depth": 6},
    "metadata": {"rows": 10},
    "model_format": "onnx",
    "model_library": "torch",
    "pipeline_name": "train",
    "pipeline_run_id": "r1",
    "step_name": "fit",
    "experiment_run_id": "e1",
    "code_version": "abc",
}
COMPARED = [*FULL_VERSION, "version", "stage"]


def _bulk(registry, *items):
    return services.registrations_bulk_create(
        registry=registry, registrations=list(items), user=None
    )


def test_a_bulk_version_holds_what_a_single_registration_would(registry):
    _bulk(registry, {"name": "bulk", "tags": {"n": 1}, "versions": [FULL_VERSION]})
    services.version_register(registry=registry, name="single", user=None, **FULL_VERSION)
    bulk, single = (
        ModelVersion.objects.filter(registration__name=name).values(*COMPARED).get()
        for name in ("bulk", "single")
    )
    assert bulk == single
    assert bulk["parameters"] == {"lr": "0.01", "depth": "6"}
    assert bulk["tags"] == {"epochs": "3", "final": "True"}
    assert ModelRegistration.objects.get(name="bulk").tags == {"n": "1"}


@pytest.mark.parametrize(
    "item,field",
    [
        (
            {"name": "m", "versions": [{"modle_source_uri": "s3://x"}]},
            "versions[0].modle_source_uri",
        ),
        ({"name": "m", "versions": [{"model_source_uri": ""}]}, "versions[0].model_source_uri"),
        (
            {"name": "m", "versions": [{"model_source_uri": "s3://x", "stage": "Live"}]},
            "versions[0].stage",
        ),
        (
            {"name": "m", "versions": [{"model_source_uri": "s3://x", "metrics": {"a": "b"}}]},
            "versions[0].metrics",
        ),
        (
            {"name": "m", "versions": [{"model_source_uri": "s3://x", "tags": {"a": [1]}}]},
            "versions[0].tags",
        ),
        ({"name": "m", "descripton": "typo"}, "descripton"),
        ({"name": "a/b"}, "name"),
        ({"name": "m", "versions": "s3://x"}, "versions"),
        ("m", ""),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(registry, item, field):
    with pytest.raises(ValidationError) as excinfo:
        _bulk(registry, {"name": "fine", "versions": [{"model_source_uri": "s3://ok"}]}, item)
    errors = excinfo.value.message_dict
    assert f"registrations[1].{field}".rstrip(".") in errors
    assert all(key.startswith("registrations[1]") for key in errors), errors
    assert not ModelRegistration.objects.exists()


def test_a_name_twice_in_one_import_is_refused(registry):
    with pytest.raises(ValidationError) as excinfo:
        _bulk(registry, {"name": "m"}, {"name": "m"})
    assert "appears twice" in excinfo.value.message_dict["registrations[1].name"][0]
    assert not ModelRegistration.objects.exists()


def test_a_taken_name_is_a_conflict_and_writes_nothing(registry):
    services.registration_create(registry=registry, name="taken", user=None)
    with pytest.raises(Conflict):
        _bulk(registry, {"name": "new"}, {"name": "taken"})
    assert list(ModelRegistration.objects.values_list("name", flat=True)) == ["taken"]


@pytest.mark.parametrize(
    "flavor,config",
    [
        ("mlflow", {"tracking_uri": "http://127.0.0.1:9/"}),
        ("dict", {}),
    ],
)
def test_a_registry_with_its_own_backend_refuses_bulk_writes(db, flavor, config):
    registry = services.registry_create(name="remote", flavor=flavor, config=config, user=None)
    with pytest.raises(CapabilityNotSupported, match="cannot take bulk writes"):
        _bulk(registry, {"name": "m", "versions": [{"model_source_uri": "s3://x"}]})
    assert not ModelRegistration.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_one_name_give_one_model_and_conflicts():
    registry = selectors.registry_get()
    barrier, outcomes = threading.Barrier(6), []

    def run(index):
        try:
            barrier.wait()
            _bulk(registry, {"name": "race", "versions": [{"model_source_uri": f"s3://{index}"}]})
            outcomes.append("created")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["Conflict"] * 5 + ["created"]
    assert ModelVersion.objects.count() == 1
