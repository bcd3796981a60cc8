"""Aliases: named pointers at versions."""

from __future__ import annotations

from django.db import transaction

from models_app.exceptions import Conflict, NotFound
from models_app.flavors import Capability
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
)
from models_app.services._common import (
    _lock_registration,
    _require,
)
from models_app.validation import (
    clean_alias,
)


def alias_set(*, version: ModelVersion, alias: str, move: bool = True, user) -> ModelAlias:
    """Point `alias` at this version; if it points at another one, move it (or, with
    move=False, refuse with a Conflict)."""
    _require(user, "change_modelversion")
    alias = clean_alias(alias)
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with transaction.atomic():
        registration = _lock_registration(version.registration_id)
        current = registration.aliases.select_related("version").filter(name=alias).first()
        if current and not move and current.version_id != version.pk:
            raise Conflict(
                f"Alias '{alias}' already points at version {current.version.version} of "
                f"'{registration.name}'."
            )
        flavor.set_alias(name=registration.name, alias=alias, version=version.version)
        found, _ = ModelAlias.objects.update_or_create(
            registration=registration, name=alias, defaults={"version": version}
        )
        return found


def alias_delete(*, registration: ModelRegistration, alias: str, user) -> None:
    _require(user, "change_modelversion")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        if not registration.aliases.filter(name=alias).exists():
            raise NotFound(f"Model '{registration.name}' has no alias '{alias}'.")
        flavor.delete_alias(name=registration.name, alias=alias)
        registration.aliases.filter(name=alias).delete()
