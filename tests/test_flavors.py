"""Services route every write through the registry's flavor; flavors are found by name or path."""

import json
import sys
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from models_app import services
from models_app.exceptions import BackendError, CapabilityNotSupported, NotFound
from models_app.flavors import available_flavors, flavor_class, import_flavor
from models_app.flavors.builtin import BuiltinFlavor
from models_app.models import (
    ModelRegistration,
    ModelVersion,
    RegisteredFlavor,
    Registry,
    StageTransition,
)


@pytest.fixture
def no_delete(db):
    return services.registry_create(name="audit", flavor="no-delete", user=None)


@pytest.fixture
def refusing(db):
    return services.registry_create(name="down", flavor="refusing", user=None)


def test_builtin_and_settings_flavors_are_listed(db, settings):
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


def test_a_non_flavor_class_is_refused_when_registered():
    with pytest.raises(ValidationError, match="not a subclass"):
        import_flavor("tests.example_flavors.BackendError")


@pytest.mark.parametrize(
    "flavor", ["this.X", "antigravity.Flavor", "tests.example_flavors.DictFlavor", "os.system"]
)
def test_an_unknown_flavor_is_refused_without_importing_anything(db, flavor):
    module = flavor.rpartition(".")[0]
    loaded_before = module in sys.modules
    with pytest.raises(ValidationError, match="Unknown flavor"):
        services.registry_create(name="bad", flavor=flavor, user=None)
    assert (module in sys.modules) == loaded_before
    assert not Registry.objects.filter(name="bad").exists()


def test_an_unknown_flavor_through_rest_is_a_400_without_import(admin_client):
    assert "this" not in sys.modules
    response = admin_client.post(
        "/api/v1/registries/",
        {"name": "bad", "flavor": "this.X"},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "this" not in sys.modules


def test_an_operator_registers_a_flavor_from_the_shell_and_registries_may_use_it(db):
    out = StringIO()
    path = "tests.example_flavors.DictFlavor"
    call_command("model_registry", "flavor", "register", path, "--name", "dict-shell", stdout=out)
    assert "Registered flavor 'dict-shell'" in out.getvalue()
    stored = RegisteredFlavor.objects.get(name="dict-shell")
    assert stored.class_path == "tests.example_flavors.DictFlavor"
    listed = StringIO()
    call_command("model_registry", "flavor", "list", "--json", stdout=listed)
    row = next(f for f in json.loads(listed.getvalue()) if f["name"] == stored.name)
    assert row["source"] == "registered"
    registry = services.registry_create(name="mine", flavor=stored.name, user=None)
    assert registry.get_flavor().__class__.__name__ == "DictFlavor"


def test_flavor_register_checks_the_class_before_storing(db):
    for path, message in [
        ("tests.example_flavors.BackendError", "not a subclass"),
        ("no.such.module.Flavor", "Cannot import"),
        ("tests.example_flavors.OverpromisingFlavor", "declares more than it implements"),
        ("not a path", "dotted path"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("model_registry", "flavor", "register", path, "--name", "x")
    with pytest.raises(CommandError, match="built in"):
        call_command(
            "model_registry",
            "flavor",
            "register",
            "tests.example_flavors.DictFlavor",
            "--name",
            "mlflow",
        )
    assert not RegisteredFlavor.objects.exists()


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

    registry = services.registry_create(name="audit-log", flavor="append-only", user=None)
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
        flavor_class("overpromising")


@pytest.mark.parametrize("name", ["builtin", "mlflow", "dict"])
def test_every_shipped_flavor_implements_what_it_declares(name):
    assert flavor_class(name).missing_methods() == {}


def test_the_flavor_interface_does_not_import_mlflow():
    import subprocess
    import sys

    code = "import sys, models_app.flavors.base; print('mlflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
