"""The audit log: one append-only `AuditEvent` per change made through the product.

How a service records a change (inside the transaction that makes it, so a rolled-back
write leaves no event and a committed one always has its event):

    from models_app import audit

    before = audit.snapshot(registration, ["description", "tags"])
    ...  # the write
    audit.record(
        action=audit.UPDATE,  # CREATE, UPDATE, DELETE, TRANSITION, ALIAS, ROLE, SYNC...
        user=user,  # None: the operator, recorded as "system"
        obj=registration,  # names the object: type, id, registry, model, version
        changes=audit.diff(before, audit.snapshot(registration, ["description", "tags"])),
        comment="optional words",
    )

For a bulk path (`bulk_create`, `QuerySet.update`, a sync page) build the events with
`audit.event(...)` (same arguments) and write them at once with `audit.record_many(events)`.
`actor_name=` overrides the name recorded (e.g. services.SYNC_ACTOR).

Why not a signals library (django-auditlog, django-simple-history): the services write
through `bulk_create`/`QuerySet.update` on their hot paths, which send no signals; the actor
is often not a user ("system", "sync"); and an event should say what the product did
("transition", "alias", "role") rather than which row changed.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from models_app.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    RegisteredFlavor,
    Registry,
    SyncRun,
)

CREATE = AuditAction.CREATE
UPDATE = AuditAction.UPDATE
DELETE = AuditAction.DELETE
TRANSITION = AuditAction.TRANSITION
ALIAS = AuditAction.ALIAS
ROLE = AuditAction.ROLE
SYNC = AuditAction.SYNC
IMPORT = AuditAction.IMPORT
RESTORE = AuditAction.RESTORE
PURGE = AuditAction.PURGE

SYSTEM_ACTOR = "system"
_REPR_MAX = 600


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def snapshot(obj, fields: Iterable[str]) -> dict[str, Any]:
    """The values of `fields` on `obj` now, as JSON (copies: later edits do not leak in)."""
    return {field: _jsonable(getattr(obj, field)) for field in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {"before": old, "after": new}}` for each field whose value differs."""
    return {
        field: {"before": _jsonable(before.get(field)), "after": _jsonable(after.get(field))}
        for field in {*before, *after}
        if _jsonable(before.get(field)) != _jsonable(after.get(field))
    }


def created(after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The changes of a creation: each field from nothing to its value."""
    return {field: {"before": None, "after": _jsonable(value)} for field, value in after.items()}


def deleted(before: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The changes of a deletion: each field from its value to nothing."""
    return {field: {"before": _jsonable(value), "after": None} for field, value in before.items()}


def actor_of(user) -> tuple[str, int | None]:
    """The name and id recorded for `user` (None: the operator, "system")."""
    if user is None:
        return SYSTEM_ACTOR, None
    if not getattr(user, "is_authenticated", False):
        return "anonymous", None
    return user.get_username(), user.pk


def describe(obj) -> dict[str, Any]:
    """What an event says about the object: type, id, text, and where it lives."""
    where: dict[str, Any] = {"object_id": str(obj.pk or "")}
    if isinstance(obj, Registry):
        where.update(object_type="registry", registry_name=obj.name)
    elif isinstance(obj, ModelRegistration):
        where.update(
            object_type="registration", registry_name=obj.registry.name, registration_name=obj.name
        )
    elif isinstance(obj, ModelVersion):
        registration = obj.registration
        where.update(
            object_type="version",
            registry_name=registration.registry.name,
            registration_name=registration.name,
            version_number=obj.version,
        )
    elif isinstance(obj, ModelAlias):
        registration = obj.registration
        where.update(
            object_type="alias",
            registry_name=registration.registry.name,
            registration_name=registration.name,
        )
    elif isinstance(obj, ApiToken):
        where.update(object_type="token")
    elif isinstance(obj, RegisteredFlavor):
        where.update(object_type="flavor")
    elif isinstance(obj, SyncRun):
        where.update(object_type="sync", registry_name=obj.registry.name)
    else:  # a model added later: named by its class, placed by its registration if it has one
        where.update(object_type=obj._meta.model_name)
        registration = getattr(obj, "registration", None)
        if isinstance(registration, ModelRegistration):
            where.update(
                registry_name=registration.registry.name, registration_name=registration.name
            )
    where["object_repr"] = str(obj)[:_REPR_MAX]
    return where


def at(
    registration: ModelRegistration,
    version: int | None = None,
    alias: str = "",
    *,
    registry: Registry | None = None,
) -> dict:
    """Where an event happened, for `event(...)` without an object at hand (bulk paths):
    the registration's registry and name, the version number, and the text shown.
    Pass `registry` when it is at hand, to save a query per registration."""
    registry_name = (registry or registration.registry).name
    text = f"{registry_name}/{registration.name}"
    if version is not None:
        text += f" v{version}"
    if alias:
        text += f"@{alias}"
    return {
        "registry_name": registry_name,
        "registration_name": registration.name,
        "version_number": version,
        "object_repr": text,
    }


def event(
    *,
    action: str,
    user=None,
    obj=None,
    changes: Mapping[str, Any] | None = None,
    comment: str = "",
    actor_name: str = "",
    **fields: Any,
) -> AuditEvent:
    """An unsaved event (for `record_many`). `fields` override what `describe(obj)` gives:
    object_type, object_id, object_repr, registry_name, registration_name, version_number."""
    name, actor_id = actor_of(user)
    values = describe(obj) if obj is not None else {}
    values.update(fields)
    values["object_repr"] = str(values.get("object_repr", ""))[:_REPR_MAX]
    return AuditEvent(
        action=str(action),
        actor_name=actor_name or name,
        actor_id=actor_id,
        changes=_jsonable(dict(changes or {})),
        comment=comment,
        **values,
    )


def record(**kwargs: Any) -> AuditEvent:
    """Write one event now (arguments as `event`). Call inside the change's transaction."""
    entry = event(**kwargs)
    entry.save()
    return entry


def record_many(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    return AuditEvent.objects.bulk_create(list(events), batch_size=500)
