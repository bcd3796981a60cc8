"""Services route every write through the registry's flavor; flavors are found by name or path."""

import pytest
from django.core.exceptions import ValidationError

from models_app import services
from models_app.exceptions import BackendError, CapabilityNotSupported, NotFound
from models_app.flavors import available_flavors, flavor_class
from models_app.flavors.builtin import BuiltinFlavor
from models_app.models import ModelRegistration, ModelVersion, StageTransition


@pytest.fixture
def no_delete(db):
    return services.registry_create(
        name="audit", flavor="tests.example_flavors.NoDeleteFlavor", user=None
    )


@pytest.fixture
def refusing(db):
    return services.registry_create(
        name="down", flavor="tests.example_flavors.RefusingFlavor", user=None
    )


def test_builtin_and_settings_flavors_are_listed(settings):
    settings.MODEL_REGISTRY_FLAVORS = {"no-delete": "tests.example_flavors.NoDeleteFlavor"}
    flavors = available_flavors()
    assert flavors["builtin"] is BuiltinFlavor
    assert flavors["no-delete"].name == "no-delete"
    assert flavor_class("no-delete") is flavors["no-delete"]


def test_a_flavor_lacking_a_capability_refuses_cleanly_and_changes_nothing(no_delete):
    version = services.version_register(
        registry=no_delete, name="m", model_source_uri="s3://x", user=None
    )
    with pytest.raises(CapabilityNotSupported, match="cannot delete version"):
        services.version_delete(version=version, user=None)
    with pytest.raises(CapabilityNotSupported, match="cannot delete model"):
        services.registration_delete(registration=version.registration, user=None)
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_a_backend_refusal_leaves_nothing_local(refusing):
    with pytest.raises(BackendError):
        services.version_register(registry=refusing, name="m", model_source_uri="s3://x", user=None)
    assert not ModelRegistration.objects.exists()


def test_a_backend_refusing_a_transition_leaves_stages_and_history_unchanged(refusing):
    registration = ModelRegistration.objects.create(
        registry=refusing, name="m", last_version_number=1
    )
    version = ModelVersion.objects.create(
        registration=registration, version=1, model_source_uri="s3://x"
    )
    with pytest.raises(BackendError):
        services.version_transition_stage(version=version, stage="Production", user=None)
    version.refresh_from_db()
    assert version.stage == "None"
    assert not StageTransition.objects.exists()


def test_a_non_flavor_class_is_refused():
    with pytest.raises(ValidationError, match="not a subclass"):
        flavor_class("tests.example_flavors.BackendError")


def test_builtin_reads_answer_from_the_database(registry, make_version):
    v1 = make_version("churn", metadata={"owner": "growth"})
    make_version("churn")
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.alias_set(version=v1, alias="champion", user=None)
    services.registration_update(registration=v1.registration, tags={"team": "a"}, user=None)
    flavor = registry.get_flavor()
    assert flavor.get_model(name="churn").tags == {"team": "a"}
    assert [m.name for m in flavor.list_models(tags={"team": "a"})] == ["churn"]
    assert flavor.list_models(tags={"team": "b"}) == []
    assert flavor.get_model_version(name="churn", version=1).aliases == ("champion",)
    assert [v.version for v in flavor.list_model_versions(name="churn")] == [2, 1]
    assert [v.version for v in flavor.list_model_versions(name="churn", stage="Production")] == [1]
    assert [v.version for v in flavor.list_model_versions(metadata={"owner": "growth"})] == [1]
    assert [
        v.version for v in flavor.list_model_versions(name="churn", order_by_date="asc", count=1)
    ] == [1]
    assert flavor.get_latest_model_version(name="churn").version == 2
    assert flavor.get_latest_model_version(name="churn", stage="Production").version == 1
    with pytest.raises(NotFound):
        flavor.get_model_version(name="churn", version=9)


def test_a_json_key_is_one_key_not_a_lookup_path(registry, make_version):
    make_version("churn", metadata={"a__contains": "x", "a": "y"})
    flavor = registry.get_flavor()
    assert len(flavor.list_model_versions(metadata={"a__contains": "x"})) == 1
    assert flavor.list_model_versions(metadata={"a__contains": "y"}) == []


def test_a_flavor_implements_only_the_capabilities_it_declares(db):
    from tests.example_flavors import AppendOnlyFlavor

    registry = services.registry_create(
        name="audit-log", flavor="tests.example_flavors.AppendOnlyFlavor", user=None
    )
    version = services.version_register(
        registry=registry, name="m", model_source_uri="s3://x", user=None
    )
    assert AppendOnlyFlavor.log[-2:] == [("model", "m"), ("version", "m")]
    with pytest.raises(CapabilityNotSupported, match="cannot transition stage"):
        services.version_transition_stage(version=version, stage="Staging", user=None)
    with pytest.raises(CapabilityNotSupported, match="cannot aliases"):
        services.alias_set(version=version, alias="champion", user=None)
    assert ModelVersion.objects.get().stage == "None"


def test_a_flavor_declaring_what_it_does_not_implement_is_refused(db):
    with pytest.raises(ValidationError, match="aliases needs set_alias, delete_alias"):
        flavor_class("tests.example_flavors.OverpromisingFlavor")


@pytest.mark.parametrize("name", ["builtin", "mlflow", "tests.example_flavors.DictFlavor"])
def test_every_shipped_flavor_implements_what_it_declares(name):
    assert flavor_class(name).missing_methods() == {}


def test_the_flavor_interface_does_not_import_mlflow():
    import subprocess
    import sys

    code = "import sys, models_app.flavors.base; print('mlflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
