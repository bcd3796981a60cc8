"""Aliases: named pointers at versions. Every change is recorded in the history."""

from __future__ import annotations

from django.db import transaction

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import Conflict, NotFound
from models_app.flavors import Capability
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    TransitionCause,
    WebhookEvent,
)
from models_app.services import webhooks
from models_app.services._backend import registration_write
from models_app.services._common import (
    _actor_name,
    _lock_registration,
    _require_promote_gate,
)
from models_app.services.transitions import _record
from models_app.validation import (
    clean_alias,
)


def alias_set(*, version: ModelVersion, alias: str, move: bool = True, user) -> ModelAlias:
    """Point `alias` at this version; if it points at another one, move it (or, with
    move=False, refuse with a Conflict). A protected alias needs the promote permission."""
    access.require(user, version.registration, Role.CONTRIBUTOR, "set an alias")
    alias = clean_alias(alias)
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with registration_write(version.registration) as registration:
        _require_promote_gate(user, registration=registration, aliases=[alias])
        version = ModelVersion.objects.get(pk=version.pk)
        current = registration.aliases.select_related("version").filter(name=alias).first()
        if current and not move and current.version_id != version.pk:
            raise Conflict(
                f"Alias '{alias}' already points at version {current.version.version} of "
                f"'{registration.name}'."
            )
        flavor.set_alias(name=registration.name, alias=alias, version=version.version)
        with transaction.atomic():
            registration = _lock_registration(registration.pk)
            found, _ = ModelAlias.objects.update_or_create(
                registration=registration, name=alias, defaults={"version": version}
            )
            if current and current.version_id == version.pk:
                return found
            previous = current.version.version if current else None
            audit.record(
                action=audit.ALIAS,
                user=user,
                object_type="alias",
                object_id=str(found.pk),
                **audit.at(registration, version.version, alias),
                changes={"version": {"before": previous, "after": version.version}},
                comment=f"Alias '{alias}' moved from version {previous}."
                if previous
                else f"Alias '{alias}' set.",
            )
            _record(
                version,
                version.stage,
                user=user,
                comment=f"Alias '{alias}' moved from version {previous}."
                if previous
                else f"Alias '{alias}' set.",
                cause=TransitionCause.ALIAS_SET,
                alias=alias,
                alias_from_version=previous,
            ).save()
            webhooks.emit(
                WebhookEvent.ALIAS_SET,
                registration,
                {
                    **webhooks.version_summary(version),
                    "alias": alias,
                    "previous_version": previous,
                    "actor": _actor_name(user),
                },
            )
        return found


def alias_delete(*, registration: ModelRegistration, alias: str, user) -> None:
    access.require(user, registration, Role.CONTRIBUTOR, "delete an alias")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with registration_write(registration) as registration:
        _require_promote_gate(user, registration=registration, aliases=[alias])
        current = registration.aliases.select_related("version").filter(name=alias).first()
        if current is None:
            raise NotFound(f"Model '{registration.name}' has no alias '{alias}'.")
        flavor.delete_alias(name=registration.name, alias=alias)
        with transaction.atomic():
            registration = _lock_registration(registration.pk)
            alias_id = current.pk
            current.delete()
            audit.record(
                action=audit.ALIAS,
                user=user,
                object_type="alias",
                object_id=str(alias_id),
                **audit.at(registration, current.version.version, alias),
                changes={"version": {"before": current.version.version, "after": None}},
                comment=f"Alias '{alias}' deleted.",
            )
            _record(
                current.version,
                current.version.stage,
                user=user,
                comment=f"Alias '{alias}' deleted.",
                cause=TransitionCause.ALIAS_DELETED,
                alias=alias,
                alias_from_version=current.version.version,
            ).save()
