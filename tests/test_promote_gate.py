"""The promote gate on every path out of Production: deletion, and protected aliases."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelAlias, ModelRegistration, ModelVersion, StageTransition
from tests.conftest import grant

MODEL = "/api/v1/models/default/churn"


@pytest.fixture
def contributor(django_user_model):
    """May register, change and delete versions and models, but not promote."""
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    return grant(
        user,
        "add_modelversion",
        "change_modelversion",
        "delete_modelversion",
        "change_modelregistration",
        "delete_modelregistration",
    )


@pytest.fixture
def releaser(django_user_model):
    """A contributor who may also promote."""
    user = django_user_model.objects.create_user("dave", password="dave-pass-123")
    return grant(
        user,
        "change_modelversion",
        "delete_modelversion",
        "change_modelregistration",
        "delete_modelregistration",
        "promote_modelversion",
    )


@pytest.fixture
def in_production(make_version):
    v1 = make_version("churn")
    v2 = make_version("churn")
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def mlflow_call(user, method, path, body):
    return getattr(api(user), method)(f"/api/2.0/mlflow/{path}", body, format="json")


# Deleting the Production version ------------------------------------------------------------
def test_deleting_a_version_needs_the_owner_role(in_production, contributor):
    """A delete permission without the promote one makes only a contributor: deleting is an
    owner's action, and owners may promote, so deleting never bypasses the gate."""
    v1, v2 = in_production
    for version in (v1, v2):
        with pytest.raises(PermissionDenied, match="needs the owner role"):
            services.version_delete(version=version, user=contributor)
    assert ModelVersion.objects.filter(pk=v1.pk, stage="Production").exists()
    assert ModelVersion.objects.filter(pk=v2.pk).exists()


def test_an_owner_by_grant_deletes_a_version_outside_production(in_production, contributor):
    _, v2 = in_production
    services.role_grant(registration=v2.registration, principal="carol", role="owner", user=None)
    services.version_delete(version=v2, user=contributor)
    assert not ModelVersion.objects.filter(pk=v2.pk).exists()


def test_deleting_the_production_version_is_recorded_in_the_history(in_production, releaser):
    v1, _ = in_production
    services.version_delete(version=v1, user=releaser)
    record = StageTransition.objects.get(cause="version_deleted")
    assert (record.version_number, record.from_stage, record.to_stage) == (1, "Production", "None")
    assert record.actor_name == "dave" and record.version_id == v1.pk  # in the trash
    assert record.registration_id == v1.registration_id


def test_rest_delete_of_the_production_version_is_refused_without_promote(
    in_production, contributor
):
    response = api(contributor).delete(f"{MODEL}/versions/1/")
    assert response.status_code == 403, response.content
    assert ModelVersion.objects.filter(version=1, stage="Production").exists()
    response = api(grant(contributor, "promote_modelversion")).delete(f"{MODEL}/versions/1/")
    assert response.status_code == 204
    history = api(contributor).get(f"{MODEL}/history/").json()
    rows = history.get("results", history)
    assert rows[0]["cause"] == "version_deleted" and rows[0]["from_stage"] == "Production"


def test_mlflow_delete_of_the_production_version_is_refused_without_promote(
    in_production, contributor
):
    response = mlflow_call(
        contributor, "delete", "model-versions/delete", {"name": "churn", "version": "1"}
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert ModelVersion.objects.filter(version=1).exists()


def test_deleting_a_registration_with_a_production_version_needs_promote(
    in_production, contributor, releaser
):
    registration = in_production[0].registration
    with pytest.raises(PermissionDenied):
        services.registration_delete(registration=registration, user=contributor)
    assert ModelRegistration.objects.filter(pk=registration.pk).exists()
    services.registration_delete(registration=registration, user=releaser)
    assert not ModelRegistration.objects.filter(pk=registration.pk).exists()


def test_archiving_the_production_version_needs_promote(in_production, contributor):
    v1, _ = in_production
    with pytest.raises(PermissionDenied):
        services.version_transition_stage(version=v1, stage="Archived", user=contributor)


# Protected aliases --------------------------------------------------------------------------
def test_champion_is_protected_by_default(in_production, contributor, releaser):
    v1, v2 = in_production
    with pytest.raises(PermissionDenied, match="protected alias.*needs the approver role"):
        services.alias_set(version=v2, alias="champion", user=contributor)
    assert not ModelAlias.objects.exists()
    services.alias_set(version=v1, alias="champion", user=releaser)
    assert ModelAlias.objects.get(name="champion").version_id == v1.pk


def test_unprotected_aliases_stay_free_for_contributors(in_production, contributor):
    _, v2 = in_production
    services.alias_set(version=v2, alias="challenger", user=contributor)
    services.alias_delete(registration=v2.registration, alias="challenger", user=contributor)
    assert not ModelAlias.objects.exists()


def test_a_protected_alias_cannot_be_moved_or_deleted_without_promote(in_production, contributor):
    v1, v2 = in_production
    services.alias_set(version=v1, alias="champion", user=None)
    with pytest.raises(PermissionDenied):
        services.alias_set(version=v2, alias="champion", user=contributor)
    with pytest.raises(PermissionDenied):
        services.alias_set(version=v2, alias="Champion", user=contributor)
    with pytest.raises(PermissionDenied):
        services.alias_delete(registration=v1.registration, alias="champion", user=contributor)
    assert ModelAlias.objects.get(name="champion").version_id == v1.pk


def test_deleting_the_version_a_protected_alias_points_at_needs_promote(make_version, contributor):
    v1 = make_version("churn")
    make_version("churn")
    services.alias_set(version=v1, alias="champion", user=None)
    with pytest.raises(PermissionDenied):
        services.version_delete(version=v1, user=contributor)
    assert ModelAlias.objects.filter(name="champion").exists()


def test_alias_moves_are_recorded_in_the_history(in_production, releaser):
    v1, v2 = in_production
    services.alias_set(version=v1, alias="champion", user=releaser)
    services.alias_set(version=v1, alias="champion", user=releaser)  # no change, no record
    services.alias_set(version=v2, alias="champion", user=releaser)
    services.alias_delete(registration=v1.registration, alias="champion", user=releaser)
    records = list(
        StageTransition.objects.filter(alias="champion")
        .order_by("id")
        .values_list("cause", "version_number", "alias_from_version", "actor_name")
    )
    assert records == [
        ("alias_set", 1, None, "dave"),
        ("alias_set", 2, 1, "dave"),
        ("alias_deleted", 2, 2, "dave"),
    ]


def test_protected_aliases_are_set_per_registration_with_promote_only(
    in_production, contributor, releaser, settings
):
    v1, v2 = in_production
    registration = v1.registration
    with pytest.raises(PermissionDenied):
        services.registration_update(
            registration=registration, protected_aliases=[], user=contributor
        )
    services.registration_update(
        registration=registration, protected_aliases=["prod", "canary"], user=releaser
    )
    services.alias_set(version=v2, alias="champion", user=contributor)  # no longer protected
    with pytest.raises(PermissionDenied):
        services.alias_set(version=v2, alias="canary", user=contributor)
    settings.MODEL_REGISTRY_PROTECTED_ALIASES = ["gold"]
    other = services.version_register(
        registry=registration.registry, name="fraud", model_source_uri="s3://b/f", user=None
    )
    with pytest.raises(PermissionDenied):
        services.alias_set(version=other, alias="gold", user=contributor)


def test_rest_protected_alias_and_setting(in_production, contributor):
    response = api(contributor).post(
        f"{MODEL}/aliases/", {"alias": "champion", "version": 2}, format="json"
    )
    assert response.status_code == 403, response.content
    response = api(contributor).patch(MODEL + "/", {"protected_aliases": []}, format="json")
    assert response.status_code == 403, response.content
    assert api(contributor).get(MODEL + "/").json()["protected_aliases"] == ["champion"]
    releaser = grant(contributor, "promote_modelversion")
    response = api(releaser).patch(MODEL + "/", {"protected_aliases": ["prod"]}, format="json")
    assert response.status_code == 200 and response.json()["protected_aliases"] == ["prod"]


def test_mlflow_protected_alias_is_refused_without_promote(in_production, contributor):
    body = {"name": "churn", "alias": "champion", "version": "2"}
    response = mlflow_call(contributor, "post", "registered-models/alias", body)
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert not ModelAlias.objects.exists()


def test_page_protected_alias_is_refused_without_promote(client, in_production, contributor):
    client.force_login(contributor)
    response = client.post(
        reverse("alias_set", args=["default", "churn", 2]), {"alias": "champion"}, follow=True
    )
    assert b"Alias not set" in response.content and b"approver role" in response.content
    assert not ModelAlias.objects.exists()


def test_the_history_page_shows_deletions_and_alias_moves(client, in_production, releaser):
    v1, v2 = in_production
    services.alias_set(version=v2, alias="champion", user=releaser)
    services.version_delete(version=v1, user=releaser)
    client.force_login(releaser)
    page = client.get(reverse("registration_detail", args=["default", "churn"])).content.decode()
    assert "deleted" in page and "champion" in page


def test_alias_moves_found_by_a_sync_are_recorded(db):
    from tests.example_flavors import DictFlavor

    DictFlavor.stores.clear()
    registry = services.registry_create(name="dicty", flavor="dict", user=None)
    v1 = services.version_register(
        registry=registry, name="m", model_source_uri="s3://b/1", user=None
    )
    services.version_register(registry=registry, name="m", model_source_uri="s3://b/2", user=None)
    services.alias_set(version=v1, alias="champion", user=None)
    backend = registry.get_flavor()
    backend.set_alias(name="m", alias="champion", version=2)  # moved behind the dashboard's back
    backend.set_alias(name="m", alias="shadow", version=1)
    services.registry_sync(registry=registry, user=None)
    found = list(
        StageTransition.objects.filter(registration__registry=registry, actor_name="sync")
        .order_by("alias")
        .values_list("cause", "alias", "version_number", "alias_from_version")
    )
    assert found == [("alias_set", "champion", 2, 1), ("alias_set", "shadow", 1, None)]
    assert ModelAlias.objects.get(name="champion").version.version == 2
    backend.delete_alias(name="m", alias="shadow")
    services.registry_sync(registry=registry, user=None)
    assert StageTransition.objects.filter(cause="alias_deleted", alias="shadow").count() == 1
    services.registry_sync(registry=registry, user=None)  # nothing changed: nothing recorded
    assert StageTransition.objects.filter(actor_name="sync").count() == 3
