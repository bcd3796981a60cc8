"""A version's fields are declared once (ModelVersion's field groups); every surface follows."""

import dataclasses

import pytest
from django.core.exceptions import ValidationError

from models_app import client, services
from models_app.api import serializers
from models_app.flavors.base import ModelVersionInfo
from models_app.forms import RegisterVersionForm
from models_app.models import ModelVersion, Registry

GROUPS = ModelVersion


def test_the_groups_cover_every_field_a_caller_sets():
    assigned = {"id", "registration", "version", "stage", "created_at", "updated_at", "created_by"}
    assigned |= {"deleted_at", "deleted_by"}  # set by the trash, never by a caller
    assigned |= set(GROUPS.DERIVED_FIELDS)
    concrete = {f.name for f in ModelVersion._meta.concrete_fields}
    assert set(GROUPS.REGISTERED_FIELDS) == concrete - assigned
    assert set(GROUPS.IMMUTABLE_FIELDS).isdisjoint(GROUPS.MUTABLE_FIELDS)
    assert set(GROUPS.LINEAGE_FIELDS) <= set(GROUPS.IMMUTABLE_FIELDS)


def test_the_django_free_client_sends_the_same_fields():
    assert client.VERSION_FIELDS == GROUPS.REGISTERED_FIELDS


def test_every_surface_takes_every_field():
    assert set(serializers.VersionCreateInput().fields) == set(GROUPS.REGISTERED_FIELDS)
    assert set(serializers.VersionUpdateInput().fields) == {*GROUPS.REGISTERED_FIELDS, "stage"}
    assert set(GROUPS.REGISTERED_FIELDS) <= set(serializers.VersionSerializer().fields)
    assert set(GROUPS.REGISTERED_FIELDS) <= set(RegisterVersionForm.base_fields)
    assert set(GROUPS.REGISTERED_FIELDS) <= {f.name for f in dataclasses.fields(ModelVersionInfo)}
    assert set(GROUPS.REGISTERED_FIELDS) <= set(services.SYNCED_VERSION_FIELDS)


def test_the_cli_register_command_sets_every_field():
    from models_app.management.commands.model_registry import Command

    parser = Command().create_parser("manage.py", "model_registry")
    register = parser._subparsers._group_actions[0].choices["models"]
    register = register._subparsers._group_actions[0].choices["register-version"]
    dests = {action.dest for action in register._actions}
    assert set(GROUPS.REGISTERED_FIELDS) <= dests


@pytest.mark.django_db
@pytest.mark.parametrize("field", GROUPS.IMMUTABLE_FIELDS)
def test_it_refuses_to_change_any_immutable_field(field, admin_user):
    registry = Registry.objects.get(name="default")
    version = services.version_register(
        registry=registry,
        name="m",
        model_source_uri="s3://x",
        parameters={"lr": "0.1"},
        user=admin_user,
    )
    other = {"parameters": {"lr": "0.2"}}.get(field, "changed")
    with pytest.raises(ValidationError) as caught:
        services.version_update(version=version, user=admin_user, **{field: other})
    assert field in caught.value.message_dict
    version.refresh_from_db()
    assert getattr(version, field) != other
