"""The trash: a deleted registration or version can be restored, with its numbers and
history, until it is purged (by hand, or when it expires)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from models_app import selectors, services
from models_app.exceptions import Conflict, NotFound
from models_app.filters import RegistrationFilterSet, VersionFilterSet
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    StageTransition,
)
from tests.example_flavors import DictFlavor


def _history(registration):
    return list(
        StageTransition.all_objects.filter(registration=registration)
        .order_by("id")
        .values_list("version_number", "from_stage", "to_stage", "cause")
    )


def test_trash_restore_keeps_version_numbers_and_history(make_version):
    v1, v2, _v3 = make_version(), make_version(), make_version()
    services.version_transition_stage(version=v2, stage="Production", user=None)
    services.alias_set(version=v2, alias="champion", user=None)
    registration = v1.registration
    before = _history(registration)

    services.registration_delete(registration=registration, user=None)
    assert not ModelRegistration.objects.exists()
    services.registration_restore(registration=registration, user=None)

    restored = selectors.registration_get(registry="default", name="churn")
    assert restored.pk == registration.pk
    assert [(v.version, v.stage) for v in restored.versions.order_by("version")] == [
        (1, "None"),
        (2, "Production"),
        (3, "None"),
    ]
    assert _history(restored) == before
    assert selectors.version_by_alias(registration=restored, alias="champion").version == 2
    assert make_version().version == 4  # numbering goes on where it was


def test_a_trashed_version_keeps_its_number_and_comes_back_with_its_history(make_version):
    v1, v2 = make_version(), make_version()
    services.version_transition_stage(version=v2, stage="Staging", user=None)
    services.version_delete(version=v2, user=None)
    # Its number is not handed out again while it is in the trash...
    v3 = make_version()
    assert v3.version == 3
    restored = services.version_restore(version=v2, user=None)
    # ...so restoring it can never collide with a newer version: both are there.
    assert (restored.version, restored.stage) == (2, "Staging")
    assert list(
        ModelVersion.objects.filter(registration=v1.registration)
        .order_by("version")
        .values_list("version", flat=True)
    ) == [1, 2, 3]
    causes = [c for n, _, _, c in _history(v1.registration) if n == 2]
    assert causes == ["direct", "version_deleted", "version_restored"]
    restore = StageTransition.objects.get(cause="version_restored")
    assert (restore.from_stage, restore.to_stage, restore.version_id) == ("None", "Staging", v2.pk)


def test_a_trashed_registration_vanishes_from_every_read(make_version, registry):
    version = make_version(tags={"team": "growth"})
    services.version_transition_stage(version=version, stage="Production", user=None)
    services.alias_set(version=version, alias="champion", user=None)
    services.registration_delete(registration=version.registration, user=None)

    with pytest.raises(NotFound):
        selectors.registration_get(registry=registry, name="churn")
    with pytest.raises(NotFound):
        selectors.version_find(registry=registry, name="churn", version=1)
    with pytest.raises(NotFound):
        selectors.version_latest_find(registry=registry, name="churn", stage="Production")
    with pytest.raises(NotFound):
        selectors.version_alias_find(registry=registry, name="churn", alias="champion")
    assert not selectors.registration_list().exists()
    assert not selectors.version_list().exists()
    assert not selectors.transition_list().exists()
    assert not ModelAlias.objects.exists()
    assert selectors.registration_count() == 0
    assert selectors.version_stage_counts() == {}
    assert selectors.registry_list(with_counts=True).get(name="default").model_count == 0
    assert list(selectors.registration_names()) == []
    assert not RegistrationFilterSet({"q": "churn"}, queryset=selectors.registration_list()).qs
    assert not VersionFilterSet({"q": "churn"}, queryset=selectors.version_list()).qs
    assert not selectors.registration_search(registry=registry).exists()
    assert not selectors.version_search(registry=registry).exists()


def test_a_trashed_version_vanishes_and_loses_its_aliases(make_version, registry):
    v1, v2 = make_version(), make_version()
    services.alias_set(version=v2, alias="candidate", user=None)
    services.version_delete(version=v2, user=None)
    assert selectors.version_latest(registration=v1.registration).version == 1
    assert list(selectors.version_list(registration=v1.registration)) == [v1]
    assert selectors.registration_summary(registry=registry, name="churn").version_count == 1
    # The alias is free for another version, as after a delete in MLflow.
    assert not ModelAlias.objects.exists()
    services.alias_set(version=v1, alias="candidate", user=None)
    deletion = StageTransition.objects.get(cause="version_deleted")
    assert "Aliases removed: candidate" in deletion.comment


def test_a_trashed_registration_frees_its_name_and_restore_onto_a_taken_name_is_refused(
    make_version, registry
):
    old = make_version().registration
    services.registration_delete(registration=old, user=None)
    # As in MLflow: the name can be used again at once, and numbering starts afresh.
    new = make_version()
    assert new.registration.pk != old.pk and new.version == 1
    with pytest.raises(Conflict, match="has a new model of that name"):
        services.registration_restore(registration=old, user=None)
    assert ModelRegistration.all_objects.get(pk=old.pk).deleted_at is not None
    services.registration_rename(registration=new.registration, new_name="churn-new", user=None)
    services.registration_restore(registration=old, user=None)
    assert selectors.registration_get(registry=registry, name="churn").pk == old.pk


def test_purge_deletes_for_good_and_numbers_stay_unused(make_version):
    v1, v2 = make_version(), make_version()
    services.version_delete(version=v2, user=None)
    services.version_purge(version=v2, user=None)
    assert not ModelVersion.all_objects.filter(pk=v2.pk).exists()
    assert make_version().version == 3
    causes = [c for n, _, _, c in _history(v1.registration) if n == 2]
    assert causes == ["version_deleted", "version_purged"]
    with pytest.raises(NotFound):
        services.version_restore(version=v2, user=None)

    registration = v1.registration
    with pytest.raises(NotFound, match="not in the trash"):
        services.registration_purge(registration=registration, user=None)
    services.registration_delete(registration=registration, user=None)
    services.registration_purge(registration=registration, user=None)
    assert not ModelRegistration.all_objects.exists()
    assert not ModelVersion.all_objects.exists()
    assert not StageTransition.all_objects.exists()


def test_a_version_of_a_trashed_registration_waits_for_its_registration(make_version):
    v1, v2 = make_version(), make_version()
    services.version_delete(version=v2, user=None)
    services.registration_delete(registration=v1.registration, user=None)
    with pytest.raises(Conflict, match="restore it first"):
        services.version_restore(version=v2, user=None)
    services.registration_restore(registration=v1.registration, user=None)
    # The version trashed on its own stays in the trash until restored on its own.
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [1]
    services.version_restore(version=v2, user=None)
    assert ModelVersion.objects.count() == 2


def test_expired_items_are_purged_and_fresh_ones_kept(make_version, settings):
    settings.MODEL_REGISTRY_TRASH_DAYS = 7
    old = make_version("old")
    fresh = make_version("fresh")
    kept, expired_version = make_version("kept"), make_version("kept")
    for version in (old, fresh):
        services.registration_delete(registration=version.registration, user=None)
    services.version_delete(version=expired_version, user=None)
    long_ago = timezone.now() - timedelta(days=8)
    ModelRegistration.all_objects.filter(pk=old.registration.pk).update(deleted_at=long_ago)
    ModelVersion.all_objects.filter(pk=expired_version.pk).update(deleted_at=long_ago)

    report = services.trash_purge_expired(user=None)

    assert (report.registrations, report.versions, report.errors) == (1, 1, [])
    assert set(ModelRegistration.all_objects.values_list("name", flat=True)) == {"fresh", "kept"}
    assert list(ModelVersion.all_objects.values_list("pk", flat=True).order_by("pk")) == [
        fresh.pk,
        kept.pk,
    ]
    deleted_at = ModelRegistration.all_objects.get(name="fresh").deleted_at
    assert selectors.trash_expiry(deleted_at) == deleted_at + timedelta(days=7)


def test_restore_and_purge_need_the_owner_role(make_version, engineer, django_user_model):
    version = make_version()
    registration = version.registration
    services.version_delete(version=version, user=None)
    approver = django_user_model.objects.create_user("ann")
    services.role_grant(registration=registration, principal="ann", role="approver", user=None)
    for user in (engineer, approver):
        for action in (services.version_restore, services.version_purge):
            with pytest.raises(PermissionDenied, match="owner role"):
                action(version=version, user=user)
    services.version_restore(version=version, user=None)
    owner = django_user_model.objects.create_user("olive")
    services.role_grant(registration=registration, principal="olive", role="owner", user=None)
    services.registration_delete(registration=registration, user=None)
    for action in (services.registration_restore, services.registration_purge):
        with pytest.raises(PermissionDenied, match="owner role"):
            action(registration=registration, user=approver)
    assert ModelRegistration.all_objects.get().deleted_at is not None
    # A role granted on the model stays with it in the trash: its owner restores it.
    services.registration_restore(registration=registration, user=owner)
    assert ModelRegistration.objects.get().pk == registration.pk


def test_a_registry_holding_trashed_models_cannot_be_deleted(db):
    other = services.registry_create(name="other", user=None)
    version = services.version_register(
        registry=other, name="m", model_source_uri="s3://b/m", user=None
    )
    services.registration_delete(registration=version.registration, user=None)
    with pytest.raises(Conflict, match="in the trash; purge them first"):
        services.registry_delete(registry=other, user=None)
    services.registration_purge(registration=version.registration, user=None)
    services.registry_delete(registry=other, user=None)


@pytest.fixture
def remote(db):
    DictFlavor.stores.clear()
    return services.registry_create(name="remote", flavor="dict", user=None)


def test_a_remote_backend_keeps_trashed_items_until_the_purge(remote):
    v1 = services.version_register(
        registry=remote, name="m", model_source_uri="s3://b/1", user=None
    )
    v2 = services.version_register(
        registry=remote, name="m", model_source_uri="s3://b/2", user=None
    )
    flavor = remote.get_flavor()
    services.version_delete(version=v2, user=None)
    assert flavor.get_model_version(name="m", version=2).version == 2
    services.version_restore(version=v2, user=None)

    services.registration_delete(registration=v1.registration, user=None)
    assert flavor.get_model(name="m").name == "m"
    # The backend still holds the name: reusing it is refused, and says why.
    with pytest.raises(Conflict, match="in the trash of registry 'remote'"):
        services.registration_create(registry=remote, name="m", user=None)
    with pytest.raises(Conflict, match="in the trash"):
        services.version_register(registry=remote, name="m", model_source_uri="s3://b", user=None)

    # A sync neither resurrects nor duplicates what is in the trash.
    run = services.registry_sync(registry=remote, user=None)
    assert (run.models_created, run.versions_created, run.models_removed) == (0, 0, 0)
    assert not ModelRegistration.objects.filter(registry=remote).exists()

    services.registration_restore(registration=v1.registration, user=None)
    assert list(
        ModelVersion.objects.filter(registration__registry=remote).values_list("version", flat=True)
    ) == [2, 1]
    services.registration_delete(registration=v1.registration, user=None)
    services.registration_purge(registration=v1.registration, user=None)
    with pytest.raises(NotFound):
        flavor.get_model(name="m")
    assert services.registration_create(registry=remote, name="m", user=None).name == "m"


def test_a_sync_drops_a_trashed_item_the_backend_lost(remote):
    version = services.version_register(
        registry=remote, name="m", model_source_uri="s3://b/1", user=None
    )
    services.registration_delete(registration=version.registration, user=None)
    remote.get_flavor().delete_model(name="m")
    run = services.registry_sync(registry=remote, user=None)
    assert run.models_removed == 1
    assert not ModelRegistration.all_objects.filter(registry=remote).exists()


def test_the_mlflow_compatible_api_treats_the_trash_as_deleted(make_version, admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    base = "/api/2.0/mlflow/"
    make_version(), make_version()
    deleted = client.delete(
        base + "model-versions/delete", {"name": "churn", "version": "2"}, format="json"
    )
    assert deleted.status_code == 200
    got = client.get(base + "model-versions/get", {"name": "churn", "version": "2"})
    assert got.status_code == 404 and got.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert (
        client.delete(
            base + "registered-models/delete", {"name": "churn"}, format="json"
        ).status_code
        == 200
    )
    got = client.get(base + "registered-models/get", {"name": "churn"})
    assert got.status_code == 404 and got.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert client.get(base + "registered-models/search").json() == {"registered_models": []}
    created = client.post(base + "registered-models/create", {"name": "churn"}, format="json")
    assert created.status_code == 200
    assert ModelRegistration.all_objects.filter(name="churn").count() == 2


def _cli(*args) -> str:
    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


def test_the_cli_lists_restores_and_purges(make_version):
    v1, v2 = make_version(), make_version()
    _cli("models", "delete-version", "churn", "-v", "2", "-y")
    listed = json.loads(_cli("trash", "list", "--json"))
    assert [(i["kind"], i["name"], i["version"], i["id"]) for i in listed] == [
        ("version", "churn", 2, v2.pk)
    ]
    assert listed[0]["expires_at"] > listed[0]["deleted_at"]
    assert "expires" in _cli("trash", "list", "--registry", "default")
    assert "Restored version 2" in _cli("trash", "restore", "churn", "-v", "2")
    assert ModelVersion.objects.count() == 2

    _cli("models", "delete", "churn", "-y")
    with pytest.raises(CommandError, match="Pass -y"):
        _cli("trash", "purge", "churn")  # permanent deletion is confirmed
    assert ModelRegistration.all_objects.count() == 1
    with pytest.raises(CommandError, match="Name one item"):
        _cli("trash", "purge", "-y")
    purged = _cli("trash", "purge", "--model-id", str(v1.registration.pk), "-y")
    assert "Purged model 'churn'" in purged
    assert not ModelRegistration.all_objects.exists()
    assert _cli("trash", "list") == "The trash is empty.\n"


def test_the_cli_purges_expired_items_and_acts_as_a_user(make_version, engineer):
    version = make_version()
    services.registration_delete(registration=version.registration, user=None)
    with pytest.raises(CommandError, match="permission"):
        _cli("trash", "restore", "churn", "--user", engineer.username)
    ModelRegistration.all_objects.update(deleted_at=timezone.now() - timedelta(days=31))
    report = json.loads(_cli("trash", "purge", "--expired", "-y", "--json"))
    assert report == {"purged_models": 1, "purged_versions": 0, "errors": []}
    assert not ModelRegistration.all_objects.exists()


def test_the_cli_names_an_ambiguous_trashed_model_by_id(make_version):
    for _ in range(2):
        services.registration_delete(registration=make_version().registration, user=None)
    with pytest.raises(CommandError, match="more than once"):
        _cli("trash", "restore", "churn")


def test_the_stage_ledger_sees_a_trashed_version_leave_and_a_restored_one_come_back(
    make_version,
):
    version = make_version()
    services.version_transition_stage(version=version, stage="Production", user=None)
    registration = version.registration
    held = timezone.now()
    services.version_delete(version=version, user=None)
    trashed = timezone.now()
    services.version_restore(version=version, user=None)
    restored = timezone.now()

    def holder(at):
        return selectors.ledger_at(registration=registration, at=at, stage="Production").version

    # Out of Production it comes back archived, so its promotion goes through the gate again.
    assert (holder(held), holder(trashed), holder(restored)) == (1, None, None)
    archived = selectors.ledger_at(registration=registration, at=restored, stage="Archived")
    assert archived.version == 1
    services.version_delete(version=version, user=None)
    services.version_purge(version=version, user=None)
    assert holder(timezone.now()) is None


def test_a_promotion_request_of_a_trashed_version_is_stale_and_of_a_trashed_model_hidden(
    make_version, django_user_model
):
    from tests.conftest import grant

    carol = grant(
        django_user_model.objects.create_user("carol"), "add_modelversion", "change_modelversion"
    )
    dave = grant(
        django_user_model.objects.create_user("dave"),
        "change_modelversion",
        "promote_modelversion",
    )
    v1, v2 = make_version(), make_version()
    first = services.version_stage_change(version=v1, stage="Production", user=carol).request
    services.version_stage_change(version=v2, stage="Production", user=carol)
    services.version_delete(version=v1, user=None)
    first.refresh_from_db()
    assert first.is_stale
    with pytest.raises(Conflict, match="stale"):
        services.promotion_request_approve(request=first, user=dave)
    assert ModelVersion.all_objects.get(pk=v1.pk).stage == "None"
    assert selectors.promotion_request_list().count() == 2
    services.registration_delete(registration=v1.registration, user=None)
    assert selectors.promotion_request_list().count() == 0


def test_the_rest_api_lists_restores_and_purges_with_confirmation(
    make_version, admin_user, django_user_model, django_assert_max_num_queries
):
    api = APIClient()
    api.force_authenticate(admin_user)
    _v1, v2 = make_version(), make_version()
    other = make_version("other")
    services.version_delete(version=v2, user=None)
    services.registration_delete(registration=other.registration, user=None)

    with django_assert_max_num_queries(6):
        listed = api.get("/api/v1/trash/").json()
    assert listed["count"] == 2
    model, version = listed["results"]
    assert (model["kind"], model["name"], model["version_count"]) == ("model", "other", 1)
    assert (version["kind"], version["name"], version["version"]) == ("version", "churn", 2)
    assert version["expires_at"] > version["deleted_at"]
    only = api.get("/api/v1/trash/", {"kind": "version", "registry": "default"}).json()
    assert [r["id"] for r in only["results"]] == [v2.pk]
    assert api.get("/api/v1/trash/", {"kind": "junk"}).status_code == 400
    assert api.get("/api/v1/trash/", {"registry": "nowhere"}).status_code == 404

    restored = api.post(f"/api/v1/trash/version/{v2.pk}/restore/")
    assert restored.status_code == 200
    assert restored.json() == {
        "kind": "version",
        "id": v2.pk,
        "registry": "default",
        "name": "churn",
        "version": 2,
        "restored": True,
    }
    assert api.get("/api/v1/models/default/churn/versions/2/").status_code == 200
    assert api.post(f"/api/v1/trash/version/{v2.pk}/restore/").status_code == 404
    assert api.post("/api/v1/trash/junk/1/restore/").status_code == 404
    assert api.post("/api/v1/trash/model/99999999999999/restore/").status_code == 404

    item = f"/api/v1/trash/model/{other.registration.pk}/purge/"
    assert api.post(item, {}, format="json").status_code == 400
    refused = api.post(item, {"confirm": False}, format="json")
    assert refused.status_code == 400 and "confirm" in refused.json()["errors"]
    viewer = APIClient()
    viewer.force_authenticate(django_user_model.objects.create_user("vic"))
    assert viewer.post(item, {"confirm": True}, format="json").status_code == 403
    assert api.post(item, {"confirm": True}, format="json").status_code == 204
    assert not ModelRegistration.all_objects.filter(name="other").exists()


def test_the_rest_api_refuses_a_restore_onto_a_taken_name(make_version, admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    old = make_version().registration
    services.registration_delete(registration=old, user=None)
    make_version()
    response = api.post(f"/api/v1/trash/model/{old.pk}/restore/")
    assert response.status_code == 409
    assert "has a new model of that name" in str(response.json())


def test_the_trash_page_restores_and_purges_only_when_confirmed(
    client, make_version, admin_user, django_assert_max_num_queries
):
    client.force_login(admin_user)
    for name in ("a", "b", "c"):
        services.registration_delete(registration=make_version(name).registration, user=None)
    kept, gone = make_version(), make_version()
    services.version_delete(version=gone, user=None)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("trash"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "model <strong>a</strong>" in html and "churn <strong>v2</strong>" in html
    assert "Delete for good" in html and "<th>Expires</th>" in html
    only_versions = client.get(reverse("trash"), {"kind": "version"}).content.decode()
    assert "model <strong>a</strong>" not in only_versions

    restored = client.post(reverse("trash_restore", args=["version", gone.pk]), follow=True)
    assert "Version 2 of model &#x27;churn&#x27; restored." in restored.content.decode()
    assert ModelVersion.objects.filter(pk=gone.pk).exists()

    a = ModelRegistration.all_objects.get(name="a")
    refused = client.post(reverse("trash_purge", args=["model", a.pk]), follow=True)
    assert "Tick the box" in refused.content.decode()
    assert ModelRegistration.all_objects.filter(pk=a.pk).exists()
    client.post(reverse("trash_purge", args=["model", a.pk]), {"confirm": "yes"})
    assert not ModelRegistration.all_objects.filter(pk=a.pk).exists()
    assert client.post(reverse("trash_restore", args=["model", a.pk])).status_code == 404
    assert client.post(reverse("trash_restore", args=["junk", "x"])).status_code == 404
    assert kept.version == 1


def test_the_history_shows_a_restore_and_a_purge(client, make_version, admin_user):
    client.force_login(admin_user)
    v1, v2 = make_version(), make_version()
    services.version_delete(version=v2, user=None)
    services.version_restore(version=v2, user=None)
    services.version_delete(version=v2, user=None)
    services.version_purge(version=v2, user=None)
    page = client.get(reverse("registration_detail", args=["default", "churn"])).content.decode()
    assert "restored from the trash" in page and "deleted for good" in page
    assert v1.version == 1


def test_the_admin_lists_restores_and_purges_after_its_confirmation_page(
    client, make_version, admin_user
):
    client.force_login(admin_user)
    kept, gone = make_version(), make_version()
    services.version_delete(version=gone, user=None)
    other = make_version("other").registration
    services.registration_delete(registration=other, user=None)

    models_page = client.get(reverse("admin:models_app_trashedmodelregistration_changelist"))
    assert models_page.status_code == 200 and "other" in models_page.content.decode()
    versions_url = reverse("admin:models_app_trashedmodelversion_changelist")
    assert "churn v2" in client.get(versions_url).content.decode()
    client.post(versions_url, {"action": "restore_selected", "_selected_action": [gone.pk]})
    assert ModelVersion.objects.filter(pk=gone.pk).exists()

    delete_url = reverse("admin:models_app_trashedmodelregistration_delete", args=[other.pk])
    confirm = client.get(delete_url)
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    assert ModelRegistration.all_objects.filter(pk=other.pk).exists()
    client.post(delete_url, {"post": "yes"})
    assert not ModelRegistration.all_objects.filter(pk=other.pk).exists()
    assert kept.version == 1


def test_the_admin_trash_is_hidden_from_staff_without_model_permissions(client, django_user_model):
    staff = django_user_model.objects.create_user("sam", is_staff=True)
    client.force_login(staff)
    url = reverse("admin:models_app_trashedmodelregistration_changelist")
    assert client.get(url).status_code == 403


def test_each_trash_step_is_in_the_audit_log(make_version):
    from models_app.models import AuditEvent

    v1, v2 = make_version(), make_version()
    services.version_delete(version=v2, user=None)
    services.version_restore(version=v2, user=None)
    services.version_delete(version=v2, user=None)
    services.version_purge(version=v2, user=None)
    services.registration_delete(registration=v1.registration, user=None)
    services.registration_restore(registration=v1.registration, user=None)
    services.registration_delete(registration=v1.registration, user=None)
    services.registration_purge(registration=v1.registration, user=None)
    steps = [
        (e.action, e.object_type)
        for e in AuditEvent.objects.filter(action__in=["delete", "restore", "purge"]).order_by("id")
    ]
    assert steps == [
        ("delete", "version"),
        ("restore", "version"),
        ("delete", "version"),
        ("purge", "version"),
        ("delete", "registration"),
        ("restore", "registration"),
        ("delete", "registration"),
        ("purge", "registration"),
    ]


def test_a_backup_keeps_the_trash(make_version, tmp_path):
    from models_app.services.backup import registry_export

    kept, trashed = make_version(), make_version()
    services.version_transition_stage(version=trashed, stage="Staging", user=None)
    services.version_delete(version=trashed, user=None)
    services.registration_delete(registration=make_version("old").registration, user=None)
    out = StringIO()
    registry_export(out=out)
    path = tmp_path / "backup.json"
    path.write_text(out.getvalue(), encoding="utf-8")
    call_command("import_registry", str(path), "--replace", stdout=StringIO())
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [1]
    services.version_restore(version=ModelVersion.all_objects.get(pk=trashed.pk), user=None)
    services.registration_restore(
        registration=ModelRegistration.all_objects.get(name="old"), user=None
    )
    assert sorted(ModelRegistration.objects.values_list("name", flat=True)) == ["churn", "old"]
    causes = [c for n, _, _, c in _history(kept.registration) if n == 2]
    assert causes == ["direct", "version_deleted", "version_restored"]
