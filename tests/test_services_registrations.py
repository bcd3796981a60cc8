"""Registrations, aliases and registries through the service layer, and their bad input."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from models_app import selectors, services
from models_app.exceptions import Conflict, NotFound
from models_app.models import ModelAlias, ModelRegistration, Registry


def test_it_creates_a_registration_explicitly(registry, engineer):
    registration = services.registration_create(
        registry=registry, name="churn", description="Churn", tags={"team": "growth"}, user=engineer
    )
    assert registration.created_by == engineer
    assert ModelRegistration.objects.get().tags == {"team": "growth"}


def test_a_duplicate_name_in_one_registry_is_a_conflict(registry):
    services.registration_create(registry=registry, name="churn", user=None)
    with pytest.raises(Conflict):
        services.registration_create(registry=registry, name="churn", user=None)
    assert ModelRegistration.objects.count() == 1


def test_the_same_name_may_live_in_two_registries(registry):
    other = services.registry_create(name="team-b", flavor="builtin", user=None)
    services.registration_create(registry=registry, name="churn", user=None)
    services.registration_create(registry=other, name="churn", user=None)
    assert ModelRegistration.objects.filter(name="churn").count() == 2


BAD_NAMES = [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 256, "at most 255"),
    ("team/churn", "'/'"),
    ("churn\n", "whitespace"),
    ("ch\x00urn", "control"),
    ("ch\x07urn", "control"),
    (" churn", "whitespace"),
    (42, "string"),
]


@pytest.mark.parametrize("name,message", BAD_NAMES)
def test_a_bad_name_is_refused_with_a_clear_message(registry, name, message):
    with pytest.raises(ValidationError) as excinfo:
        services.registration_create(registry=registry, name=name, user=None)
    assert message in excinfo.value.message_dict["name"][0]
    assert not ModelRegistration.objects.exists()


@pytest.mark.parametrize("name,message", BAD_NAMES)
def test_a_bad_name_is_refused_when_registering_a_version(registry, name, message):
    with pytest.raises(ValidationError) as excinfo:
        services.version_register(
            registry=registry, name=name, model_source_uri="s3://x", user=None
        )
    assert message in excinfo.value.message_dict["name"][0]
    assert not ModelRegistration.objects.exists()


def test_a_name_of_255_characters_is_fine(registry):
    services.registration_create(registry=registry, name="x" * 255, user=None)


def test_update_changes_description_and_merges_tags(registry):
    registration = services.registration_create(
        registry=registry, name="m", tags={"a": "1", "b": "2"}, user=None
    )
    services.registration_update(
        registration=registration, description="new", tags={"a": None, "c": "3"}, user=None
    )
    registration.refresh_from_db()
    assert registration.description == "new"
    assert registration.tags == {"b": "2", "c": "3"}


def test_update_needs_the_change_permission(registry, outsider):
    registration = services.registration_create(registry=registry, name="m", user=None)
    with pytest.raises(PermissionDenied):
        services.registration_update(registration=registration, description="x", user=outsider)


def test_rename_keeps_versions_and_refuses_a_taken_name(registry, make_version):
    version = make_version("old")
    make_version("taken")
    with pytest.raises(Conflict):
        services.registration_rename(registration=version.registration, new_name="taken", user=None)
    services.registration_rename(registration=version.registration, new_name="new", user=None)
    assert selectors.registration_get(registry=registry, name="new").versions.count() == 1


def test_delete_needs_the_delete_permission(registry, engineer):
    registration = services.registration_create(registry=registry, name="m", user=None)
    with pytest.raises(PermissionDenied):
        services.registration_delete(registration=registration, user=engineer)
    assert ModelRegistration.objects.exists()


def test_unknown_names_raise_not_found(registry):
    with pytest.raises(NotFound, match="Model 'ghost' does not exist"):
        selectors.registration_get(registry=registry, name="ghost")
    with pytest.raises(NotFound, match="Registry 'nowhere' does not exist"):
        selectors.registry_get("nowhere")


# Aliases ----------------------------------------------------------------------------
def test_an_alias_points_at_one_version_and_moves(make_version):
    v1, v2 = make_version(), make_version()
    services.alias_set(version=v1, alias="champion", user=None)
    assert selectors.version_by_alias(registration=v1.registration, alias="champion") == v1
    services.alias_set(version=v2, alias="champion", user=None)
    assert selectors.version_by_alias(registration=v1.registration, alias="champion") == v2
    assert ModelAlias.objects.count() == 1


def test_the_same_alias_name_may_exist_in_two_registrations(make_version):
    services.alias_set(version=make_version("a"), alias="champion", user=None)
    services.alias_set(version=make_version("b"), alias="champion", user=None)
    assert ModelAlias.objects.count() == 2


def test_deleting_an_alias_and_an_unknown_alias(make_version):
    version = make_version()
    services.alias_set(version=version, alias="champion", user=None)
    services.alias_delete(registration=version.registration, alias="champion", user=None)
    with pytest.raises(NotFound):
        selectors.version_by_alias(registration=version.registration, alias="champion")
    with pytest.raises(NotFound):
        services.alias_delete(registration=version.registration, alias="champion", user=None)


@pytest.mark.parametrize("alias", ["", "latest", "v3", "V12", "has space", "a/b", "x" * 256])
def test_bad_alias_names_are_refused(make_version, alias):
    with pytest.raises(ValidationError):
        services.alias_set(version=make_version(), alias=alias, user=None)
    assert not ModelAlias.objects.exists()


def test_deleting_a_version_drops_its_aliases(make_version):
    version = make_version()
    services.alias_set(version=version, alias="champion", user=None)
    services.version_delete(version=version, user=None)
    assert not ModelAlias.objects.exists()


def test_setting_an_alias_needs_the_change_permission(make_version, outsider):
    with pytest.raises(PermissionDenied):
        services.alias_set(version=make_version(), alias="champion", user=outsider)


# Registries -------------------------------------------------------------------------
def test_the_default_registry_exists_and_cannot_be_deleted(db):
    default = Registry.objects.get(name="default")
    assert default.flavor == "builtin"
    with pytest.raises(ValidationError):
        services.registry_delete(registry=default, user=None)


def test_a_registry_with_models_cannot_be_deleted(make_version):
    other = services.registry_create(name="other", user=None)
    services.version_register(registry=other, name="m", model_source_uri="s3://x", user=None)
    with pytest.raises(Conflict):
        services.registry_delete(registry=other, user=None)


@pytest.mark.parametrize("flavor", ["nope", "os.path.join", "no.such.module.Flavor"])
def test_a_registry_with_an_unknown_flavor_is_refused(db, flavor):
    with pytest.raises(ValidationError) as excinfo:
        services.registry_create(name="bad", flavor=flavor, user=None)
    assert "flavor" in excinfo.value.message_dict
    assert not Registry.objects.filter(name="bad").exists()


def test_a_duplicate_registry_name_is_a_conflict(db):
    with pytest.raises(Conflict):
        services.registry_create(name="default", user=None)
