"""The audit log: every mutating service leaves an event with its actor and each changed
field's before/after; nobody can edit or delete an event through the product.

`CASES` names one call of every public service that writes. A service added to
`services.__all__` without a case here (or a reason in `NOT_AUDITED`) fails
`test_every_service_is_audited_or_says_why_not`, so a new write cannot ship unaudited.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from models_app import audit, selectors, services
from models_app.exceptions import Conflict
from models_app.flavors import mlflow as mlflow_flavor
from models_app.models import (
    AuditEvent,
    ModelVersion,
    RunDataState,
)
from tests.conftest import grant
from tests.example_flavors import DictFlavor

# Public callables in services.__all__ that change nothing a person would audit.
NOT_AUDITED = {
    "token_authenticate": "reads a token; only stamps its last use (at most once a minute)",
    "tracking_uri_for": "a read",
    "registry_connection_test": "one read of a backend; nothing is saved",
    "run_data_request": "marks derived state (metrics pending) inside an audited write",
    "run_data_retry": "queues fetches; the fetch itself is audited (run_data_fetch)",
    "webhook_emit": "queues deliveries inside a change that is itself audited",
    "webhook_deliver": "one delivery attempt; its outcome is kept in the delivery log",
    "webhook_test": "queues a test delivery; the subscription does not change",
}


@dataclasses.dataclass
class Ctx:
    registry: object
    user: object
    make_version: Callable
    make_user: Callable


@dataclasses.dataclass
class Expect:
    """The event a call must leave: its action, the type of object, and some of the changed
    fields with (before, after). `actor` defaults to the acting user's name."""

    action: str
    object_type: str
    fields: dict
    actor: str | None = None


def _alias_set(c):
    version = c.make_version()
    yield
    services.alias_set(version=version, alias="best", user=c.user)
    yield Expect("alias", "alias", {"version": (None, 1)})


def _alias_delete(c):
    version = c.make_version()
    services.alias_set(version=version, alias="best", user=None)
    yield
    services.alias_delete(registration=version.registration, alias="best", user=c.user)
    yield Expect("alias", "alias", {"version": (1, None)})


def _flavor_register(c):
    yield
    services.flavor_register(
        class_path="tests.example_flavors.DictFlavor", name="dict-audit", user=c.user
    )
    yield Expect("create", "flavor", {"class_path": (None, "tests.example_flavors.DictFlavor")})


def _registration_create(c):
    yield
    services.registration_create(registry=c.registry, name="fraud", user=c.user)
    yield Expect("create", "registration", {"name": (None, "fraud")})


def _registration_update(c):
    registration = c.make_version().registration
    yield
    services.registration_update(
        registration=registration, description="new", tags={"team": "risk"}, user=c.user
    )
    yield Expect(
        "update", "registration", {"description": ("", "new"), "tags": ({}, {"team": "risk"})}
    )


def _registration_rename(c):
    registration = c.make_version().registration
    yield
    services.registration_rename(registration=registration, new_name="churn-2", user=c.user)
    yield Expect("update", "registration", {"name": ("churn", "churn-2")})


def _registration_rollback(c):
    first, second = c.make_version(), c.make_version()
    services.version_transition_stage(version=first, stage="Production", user=None)
    services.version_transition_stage(
        version=second, stage="Production", archive_existing=True, user=None
    )
    yield
    services.registration_rollback(registration=first.registration, user=c.user)
    yield Expect("transition", "version", {"stage": ("Archived", "Production")})


def _registration_delete(c):
    registration = c.make_version().registration
    yield
    services.registration_delete(registration=registration, user=c.user)
    yield Expect("delete", "registration", {"deleted_at": (None, ...)})


def _registration_restore(c):
    registration = c.make_version().registration
    services.registration_delete(registration=registration, user=None)
    yield
    services.registration_restore(registration=registration, user=c.user)
    yield Expect("restore", "registration", {"deleted_at": (...,)})


def _registration_purge(c):
    registration = c.make_version().registration
    services.registration_delete(registration=registration, user=None)
    yield
    services.registration_purge(registration=registration, user=c.user)
    yield Expect("purge", "registration", {"name": ("churn", None)})


def _trash_purge_expired(c):
    version = c.make_version()
    services.version_delete(version=version, user=None)
    yield
    services.trash_purge_expired(user=c.user, now=timezone.now() + timedelta(days=10000))
    yield Expect("purge", "version", {"model_source_uri": ("s3://bucket/churn/model", None)})


def _registrations_bulk_create(c):
    yield
    services.registrations_bulk_create(
        registry=c.registry,
        registrations=[{"name": "bulk-a", "versions": [{"model_source_uri": "s3://b/a"}]}],
        user=c.user,
    )
    yield Expect("create", "registration", {"name": (None, "bulk-a")})


def _registry_create(c):
    yield
    services.registry_create(name="team-b", user=c.user)
    yield Expect("create", "registry", {"name": (None, "team-b"), "flavor": (None, "builtin")})


def _registry_update(c):
    registry = services.registry_create(name="team-b", user=None)
    yield
    services.registry_update(registry=registry, description="Team B", user=c.user)
    yield Expect("update", "registry", {"description": ("", "Team B")})


def _registry_delete(c):
    registry = services.registry_create(name="team-b", user=None)
    yield
    services.registry_delete(registry=registry, user=c.user)
    yield Expect("delete", "registry", {"name": ("team-b", None)})


def _dict_registry(name="dict-audit"):
    registry = services.registry_create(name=name, flavor="dict", user=None)
    DictFlavor.stores.pop(name, None)
    return registry


def _registry_sync(c):
    registry = _dict_registry()
    yield
    services.registry_sync(registry=registry, user=c.user)
    yield Expect("sync", "sync", {"status": ("running", "succeeded")})


def _sync_request(c):
    registry = _dict_registry()
    yield
    services.sync_request(registry=registry, user=c.user)
    yield Expect("sync", "sync", {})


def _run_data_fetch(c, monkeypatch):
    version = c.make_version(experiment_run_id="run-1")
    ModelVersion.objects.filter(pk=version.pk).update(run_data_state=RunDataState.PENDING)
    # The fetch from a tracking server is replaced: what is tested is the record of its copy.
    monkeypatch.setattr(
        mlflow_flavor,
        "fetch_run_data",
        lambda uri, run_id="", source="": mlflow_flavor.RunData(run_id, {"acc": 0.9}, {}, {}),
    )
    yield
    services.run_data_fetch(version_ids=[version.pk])
    yield Expect("update", "version", {"metrics": ({}, {"acc": 0.9})}, actor="system")


def _token_create(c):
    yield
    services.token_create(owner=c.user, name="ci", user=c.user)
    yield Expect("create", "token", {"name": (None, "ci"), "owner": (None, "auditor")})


def _token_revoke(c):
    token, _ = services.token_create(owner=c.user, name="ci", user=None)
    yield
    services.token_revoke(token=token, user=c.user)
    yield Expect("update", "token", {"revoked_at": (None, ...)})


def _tokens_revoke_all(c):
    services.token_create(owner=c.user, name="ci", user=None)
    yield
    services.tokens_revoke_all(owner=c.user, user=c.user)
    yield Expect("update", "token", {"revoked_at": (None, ...)})


def _version_register(c):
    yield
    services.version_register(
        registry=c.registry,
        name="churn",
        model_source_uri="s3://bucket/churn/model",
        metrics={"acc": 0.5},
        user=c.user,
    )
    yield Expect(
        "create",
        "version",
        {"model_source_uri": (None, "s3://bucket/churn/model"), "metrics": (None, {"acc": 0.5})},
    )


def _version_update(c):
    version = c.make_version()
    yield
    services.version_update(version=version, description="better", user=c.user)
    yield Expect("update", "version", {"description": ("", "better")})


def _version_transition_stage(c):
    version = c.make_version()
    yield
    services.version_transition_stage(version=version, stage="Staging", user=c.user)
    yield Expect("transition", "version", {"stage": ("None", "Staging")})


def _version_delete(c):
    version = c.make_version()
    yield
    services.version_delete(version=version, user=c.user)
    yield Expect("delete", "version", {"deleted_at": (None, ...)})


def _version_restore(c):
    version = c.make_version()
    services.version_delete(version=version, user=None)
    yield
    services.version_restore(version=version, user=c.user)
    yield Expect("restore", "version", {"deleted_at": (...,)})


def _version_purge(c):
    version = c.make_version()
    services.version_delete(version=version, user=None)
    yield
    services.version_purge(version=version, user=c.user)
    yield Expect("purge", "version", {"stage": ("None", None)})


def _role_grant(c):
    registration = c.make_version().registration
    c.make_user("carol")
    yield
    services.role_grant(registration=registration, principal="carol", role="approver", user=c.user)
    yield Expect("role", "role", {"role": (None, "approver")})


def _role_revoke(c):
    registration = c.make_version().registration
    c.make_user("carol")
    services.role_grant(registration=registration, principal="carol", role="viewer", user=None)
    yield
    services.role_revoke(registration=registration, principal="carol", user=c.user)
    yield Expect("role", "role", {"role": ("viewer", None)})


def _webhook_create(c):
    yield
    services.webhook_create(url="http://127.0.0.1:9/x", events=["version.registered"], user=c.user)
    yield Expect("create", "webhook", {"url": (None, "http://127.0.0.1:9/x")})


def _webhook_delete(c):
    webhook, _ = services.webhook_create(
        url="http://127.0.0.1:9/x", events=["version.registered"], name="ci", user=None
    )
    yield
    services.webhook_delete(webhook=webhook, user=c.user)
    yield Expect("delete", "webhook", {"name": ("ci", None)})


def _asked(c):
    """A pending request of a contributor (not the auditor, who decides it)."""
    version = c.make_version()
    services.registration_update(
        registration=version.registration, approval_required=True, user=None
    )
    carol = grant(c.make_user("carol"), "add_modelversion", "change_modelversion")
    return services.version_stage_change(version=version, stage="Production", user=carol).request


def _version_stage_change(c):
    version = c.make_version()
    services.registration_update(
        registration=version.registration, approval_required=True, user=None
    )
    carol = grant(c.make_user("carol"), "add_modelversion", "change_modelversion")
    c.user = carol
    yield
    services.version_stage_change(version=version, stage="Production", user=carol)
    yield Expect("create", "promotion_request", {"to_stage": (None, "Production")})


def _promotion_request_approve(c):
    request = _asked(c)
    yield
    services.promotion_request_approve(request=request, user=c.user)
    yield Expect("update", "promotion_request", {"state": ("pending", "approved")})


def _promotion_request_reject(c):
    request = _asked(c)
    yield
    services.promotion_request_reject(request=request, comment="not yet", user=c.user)
    yield Expect("update", "promotion_request", {"state": ("pending", "rejected")})


def _promotion_request_cancel(c):
    request = _asked(c)
    yield
    services.promotion_request_cancel(request=request, user=c.user)
    yield Expect("update", "promotion_request", {"state": ("pending", "cancelled")})


CASES = {
    "alias_delete": _alias_delete,
    "alias_set": _alias_set,
    "flavor_register": _flavor_register,
    "promotion_request_approve": _promotion_request_approve,
    "promotion_request_cancel": _promotion_request_cancel,
    "promotion_request_reject": _promotion_request_reject,
    "registration_create": _registration_create,
    "registration_delete": _registration_delete,
    "registration_purge": _registration_purge,
    "registration_rename": _registration_rename,
    "registration_restore": _registration_restore,
    "registration_rollback": _registration_rollback,
    "registration_update": _registration_update,
    "registrations_bulk_create": _registrations_bulk_create,
    "registry_create": _registry_create,
    "registry_delete": _registry_delete,
    "registry_sync": _registry_sync,
    "registry_update": _registry_update,
    "role_grant": _role_grant,
    "role_revoke": _role_revoke,
    "run_data_fetch": _run_data_fetch,
    "sync_request": _sync_request,
    "token_create": _token_create,
    "trash_purge_expired": _trash_purge_expired,
    "token_revoke": _token_revoke,
    "tokens_revoke_all": _tokens_revoke_all,
    "version_delete": _version_delete,
    "version_purge": _version_purge,
    "version_register": _version_register,
    "version_restore": _version_restore,
    "version_transition_stage": _version_transition_stage,
    "version_stage_change": _version_stage_change,
    "version_update": _version_update,
    "webhook_create": _webhook_create,
    "webhook_delete": _webhook_delete,
}


def test_every_service_is_audited_or_says_why_not():
    public = {
        name
        for name in services.__all__
        if callable(getattr(services, name)) and not isinstance(getattr(services, name), type)
    }
    missing = sorted(public - set(CASES) - set(NOT_AUDITED))
    assert not missing, (
        f"Services without an audit case: {missing}. Record their changes with "
        "models_app.audit.record(...) and add a case to CASES in tests/test_audit.py "
        "(or, if they change nothing worth auditing, say why in NOT_AUDITED)."
    )
    assert not (set(CASES) | set(NOT_AUDITED)) - public, "CASES names a service that is gone"


@pytest.fixture
def auditor(django_user_model):
    return django_user_model.objects.create_superuser("auditor", password="auditor-pass-123")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_mutating_service_records_actor_and_before_after(
    name, registry, make_version, auditor, monkeypatch, django_user_model, settings
):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True  # a local address for webhooks
    ctx = Ctx(
        registry=registry,
        user=auditor,
        make_version=make_version,
        make_user=lambda username: django_user_model.objects.create_user(username),
    )
    case = CASES[name]
    steps = case(ctx, monkeypatch) if name == "run_data_fetch" else case(ctx)
    next(steps)  # the setup
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    expect = next(steps)  # the call
    events = list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))
    assert events, f"{name} recorded no audit event"
    matching = [
        e for e in events if (e.action, e.object_type) == (expect.action, expect.object_type)
    ]
    assert matching, f"{name}: no {expect.action} event on a {expect.object_type} in {events}"
    found = matching[0]
    assert found.actor_name == (expect.actor or ctx.user.username)
    if expect.actor is None:
        assert found.actor_id == ctx.user.pk
    assert found.created_at is not None
    for field, values in expect.fields.items():
        assert field in found.changes, f"{name}: {field} not in {found.changes}"
        if values == (...,):  # something before, nothing after
            assert found.changes[field]["before"] is not None
            assert found.changes[field]["after"] is None
            continue
        before, after = values
        assert found.changes[field]["before"] == before
        if after is not ...:
            assert found.changes[field]["after"] == after
        else:
            assert found.changes[field]["after"] is not None


def test_a_refused_write_records_nothing(registry, make_version):
    make_version("churn")
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.registration_create(registry=registry, name="churn", user=None)
    assert AuditEvent.objects.count() == before


def test_promotion_records_each_archived_rival(registry, make_version, auditor):
    first, second = make_version(), make_version()
    services.version_transition_stage(version=first, stage="Production", user=None)
    mark = AuditEvent.objects.latest("id").id
    services.version_transition_stage(
        version=second, stage="Production", archive_existing=True, user=auditor
    )
    events = {
        e.version_number: e for e in AuditEvent.objects.filter(id__gt=mark, action="transition")
    }
    assert events[2].changes == {"stage": {"before": "None", "after": "Production"}}
    assert events[1].changes == {"stage": {"before": "Production", "after": "Archived"}}
    assert events[1].actor_name == "auditor"
    assert "Archived because version 2" in events[1].comment


def test_operator_without_user_is_recorded_as_system(registry):
    services.registration_create(registry=registry, name="ops", user=None)
    event = AuditEvent.objects.get(action="create", registration_name="ops")
    assert (event.actor_name, event.actor_id) == ("system", None)


def test_sync_records_what_it_found_in_the_backend_as_sync(db, auditor):
    registry = _dict_registry("dict-sync")
    flavor = registry.get_flavor()
    flavor.register_model(name="found", description="from backend")
    from models_app.flavors.base import ModelVersionInfo

    flavor.register_model_version(
        info=ModelVersionInfo(registered_model_name="found", model_source_uri="s3://b/f")
    )
    flavor.register_model_version(
        info=ModelVersionInfo(registered_model_name="found", model_source_uri="s3://b/g")
    )
    services.registry_sync(registry=registry, user=auditor)
    created = AuditEvent.objects.filter(actor_name=services.SYNC_ACTOR, action="create")
    assert {(e.object_type, e.version_number) for e in created} == {
        ("registration", None),
        ("version", 1),
        ("version", 2),
    }
    # Changes in the backend: a stage change, an alias, a removed version.
    flavor.transition_stage(name="found", version=1, stage="Staging", archive_existing=False)
    flavor.set_alias(name="found", alias="best", version=1)
    flavor.delete_model_version(name="found", version=2)
    mark = AuditEvent.objects.latest("id").id
    services.registry_sync(registry=registry, user=auditor)
    found = {
        (e.action, e.object_type, e.version_number): e
        for e in AuditEvent.objects.filter(id__gt=mark, actor_name=services.SYNC_ACTOR)
    }
    assert found[("transition", "version", 1)].changes["stage"] == {
        "before": "None",
        "after": "Staging",
    }
    assert found[("alias", "alias", 1)].changes["version"] == {"before": None, "after": 1}
    assert ("delete", "version", 2) in found
    run_event = AuditEvent.objects.filter(id__gt=mark, action="sync").get()
    assert run_event.actor_name == "auditor"
    assert "versions +0 ~1 -1" in run_event.comment


def test_the_creator_of_a_model_is_recorded_as_its_owner(registry, engineer):
    services.registration_create(registry=registry, name="fraud", user=engineer)
    role = AuditEvent.objects.get(action="role", registration_name="fraud")
    assert (role.actor_name, role.object_id) == ("alice", "alice")
    assert role.changes == {"role": {"before": None, "after": "owner"}}


def test_events_outlive_what_they_name(registry, make_version):
    registration = make_version().registration
    services.registration_delete(registration=registration, user=None)
    assert AuditEvent.objects.filter(registration_name="churn").count() >= 2


# Append-only -----------------------------------------------------------------------------
def test_events_cannot_be_changed_or_deleted_through_the_orm(registry):
    event = audit.record(action=audit.UPDATE, object_type="registry", object_repr="x")
    event.comment = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    with pytest.raises(ValueError):
        AuditEvent.objects.filter(pk=event.pk).update(comment="rewritten")
    with pytest.raises(ValueError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).comment == ""


def test_admin_shows_the_log_but_even_a_superuser_cannot_change_it(client, auditor, registry):
    services.registration_create(registry=registry, name="fraud", user=auditor)
    event = AuditEvent.objects.latest("id")
    client.force_login(auditor)
    listing = client.get(reverse("admin:models_app_auditevent_changelist"))
    assert listing.status_code == 200
    assert "fraud" in listing.content.decode()
    assert reverse("admin:models_app_auditevent_add") not in listing.content.decode()
    assert client.get(reverse("admin:models_app_auditevent_add")).status_code == 403
    delete_url = reverse("admin:models_app_auditevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:models_app_auditevent_change", args=[event.pk])
    assert client.post(change_url, {"comment": "rewritten"}).status_code == 403
    # Read-only view is allowed; nothing changed.
    assert client.get(change_url).status_code == 200
    assert AuditEvent.objects.filter(pk=event.pk, comment="").exists()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_api_has_no_write_to_the_log(api, registry, method):
    services.registration_create(registry=registry, name="fraud", user=None)
    count = AuditEvent.objects.count()
    response = getattr(api, method)(reverse("api-audit-list"), {"comment": "x"}, format="json")
    assert response.status_code == 405
    assert AuditEvent.objects.count() == count


# Reading: API, page, CLI -----------------------------------------------------------------
@pytest.fixture
def history(registry, make_version, django_user_model):
    alice = django_user_model.objects.create_user("alice", password="alice-pass-123")
    alice = grant(alice, "add_modelversion", "change_modelversion", "promote_modelversion")
    services.version_register(
        registry=registry, name="churn", model_source_uri="s3://b/c", user=alice
    )
    version = make_version("fraud")
    services.version_transition_stage(version=version, stage="Production", user=alice)
    return alice


def test_api_lists_and_filters_the_log(api, history):
    body = api.get(reverse("api-audit-list")).json()
    assert body["count"] == AuditEvent.objects.count()
    assert body["results"][0]["action"] == "transition"  # newest first
    first = body["results"][0]
    assert first["changes"] == {"stage": {"before": "None", "after": "Production"}}
    assert (first["actor"], first["model"], first["registry"]) == ("alice", "fraud", "default")

    by_model = api.get(reverse("api-audit-list"), {"model": "churn"}).json()
    assert {r["model"] for r in by_model["results"]} == {"churn"}
    by_actor = api.get(reverse("api-audit-list"), {"actor": "system"}).json()
    assert {r["actor"] for r in by_actor["results"]} == {"system"}
    by_action = api.get(reverse("api-audit-list"), {"action": "transition"}).json()
    assert by_action["count"] == 1
    later = api.get(reverse("api-audit-list"), {"since": "2999-01-01T00:00:00Z"}).json()
    assert later["count"] == 0
    earlier = api.get(reverse("api-audit-list"), {"until": "2999-01-01T00:00:00Z"}).json()
    assert earlier["count"] == body["count"]
    paged = api.get(reverse("api-audit-list"), {"page_size": 1}).json()
    assert len(paged["results"]) == 1 and paged["next"]
    bad = api.get(reverse("api-audit-list"), {"action": "nonsense"})
    assert bad.status_code == 400


def test_api_and_page_need_the_view_permission(client, history, django_user_model):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(history)
    assert api.get(reverse("api-audit-list")).status_code == 403
    client.force_login(history)
    assert client.get(reverse("audit")).status_code == 403
    permitted = grant(history, "view_auditevent")
    api.force_authenticate(permitted)
    assert api.get(reverse("api-audit-list")).status_code == 200
    client.force_login(permitted)
    assert client.get(reverse("audit")).status_code == 200


def test_page_lists_filters_and_stays_at_constant_queries(
    admin_client, history, registry, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        page = admin_client.get(reverse("audit"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "default/fraud v1" in html and "Production" in html and "alice" in html
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {"name": f"n{i:03d}", "versions": [{"model_source_uri": "s3://b/x"}]} for i in range(60)
        ],
    )
    with django_assert_max_num_queries(8):
        assert admin_client.get(reverse("audit")).status_code == 200
    filtered = admin_client.get(reverse("audit"), {"model": "churn"}).content.decode()
    assert "default/churn v1" in filtered and "default/fraud" not in filtered
    partial = admin_client.get(reverse("audit"), {"actor": "alice"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert 'id="audit-table"' in partial.content.decode()


def test_registration_page_and_navigation_link_to_the_log(admin_client, history):
    html = admin_client.get(reverse("registration_detail", args=["default", "churn"])).content
    assert b"/audit/?registry=default&amp;model=churn" in html
    assert b'href="/audit/"' in admin_client.get(reverse("dashboard")).content


def test_cli_prints_the_log_as_json_with_filters(history):
    out = io.StringIO()
    call_command("model_registry", "audit", "--model", "fraud", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows and {row["model"] for row in rows} == {"fraud"}
    assert rows[0]["changes"]["stage"] == {"before": "None", "after": "Production"}
    out = io.StringIO()
    call_command(
        "model_registry", "audit", "--registry", "default", "--since", "2000-01-01",
        "--actor", "alice", "--json", stdout=out,
    )  # fmt: skip
    assert {row["actor"] for row in json.loads(out.getvalue())} == {"alice"}
    out = io.StringIO()
    call_command("model_registry", "audit", stdout=out)
    assert "transition" in out.getvalue()


def test_cli_refuses_a_user_without_the_permission_and_a_bad_date(history):
    from django.core.management.base import CommandError

    with pytest.raises(Exception, match="permission"):
        call_command("model_registry", "audit", "--user", "alice")
    with pytest.raises(CommandError, match="--since"):
        call_command("model_registry", "audit", "--since", "yesterday-ish")


def test_selector_refuses_inactive_users(history):
    history.is_active = False
    with pytest.raises(Exception, match="permission"):
        selectors.audit_list(user=history)


def test_a_restore_from_backup_is_one_event(registry, make_version):
    from models_app.services.backup import registry_export, registry_import

    make_version()
    out = io.StringIO()
    registry_export(out=out)
    registry_import(stream=io.BytesIO(out.getvalue().encode()), replace=True)
    event = AuditEvent.objects.get(action="import")
    assert event.actor_name == "system"
    assert event.changes["versions"] == {"before": None, "after": 1}
    assert "replacing" in event.comment


def test_the_database_refuses_to_rewrite_an_event(registry):
    from django.db import DatabaseError, connection, transaction

    event = audit.record(action=audit.UPDATE, object_type="registry", object_repr="x")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE models_app_auditevent SET comment = %s WHERE id = %s", ["rewritten", event.pk]
        )
    assert AuditEvent.objects.get(pk=event.pk).comment == ""


def test_access_changes_in_the_admin_are_audited(client, auditor, django_user_model):
    from django.contrib.auth.models import Group, Permission

    bob = django_user_model.objects.create_user("bob", password="bob-pass-123")
    reviewers = Group.objects.create(name="reviewers")
    promote = Permission.objects.get(codename="promote_modelversion")
    client.force_login(auditor)
    response = client.post(
        reverse("admin:auth_user_change", args=[bob.pk]),
        {
            "username": "bob",
            "is_active": "on",
            "is_staff": "on",
            "groups": [reviewers.pk],
            "user_permissions": [promote.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(object_type="user", object_id=str(bob.pk))
    assert (event.action, event.actor_name) == ("role", "auditor")
    assert event.changes["is_staff"] == {"before": False, "after": True}
    assert event.changes["groups"] == {"before": [], "after": ["reviewers"]}
    assert event.changes["permissions"] == {"before": [], "after": ["promote_modelversion"]}
    response = client.post(
        reverse("admin:auth_group_change", args=[reviewers.pk]),
        {"name": "reviewers", "permissions": [promote.pk]},
    )
    assert response.status_code == 302
    group_event = AuditEvent.objects.get(object_type="group")
    assert group_event.changes == {"permissions": {"before": [], "after": ["promote_modelversion"]}}
