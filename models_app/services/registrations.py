"""Registrations: create, update, rename, delete."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction

from models_app.exceptions import Conflict
from models_app.flavors import Capability
from models_app.models import (
    ModelRegistration,
    Registry,
)
from models_app.services._common import (
    UNSET,
    _lock_registration,
    _real_user,
    _refuse_case_clash,
    _require,
    _require_promote_gate,
)
from models_app.validation import (
    Cleaner,
    clean_alias_list,
    clean_name,
    clean_str_map,
    clean_text,
    merge_patch,
)


def registration_create(
    *,
    registry: Registry,
    name: str,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    user,
) -> ModelRegistration:
    _require(user, "add_modelregistration")
    clean = Cleaner()
    name = clean(clean_name, name)
    description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags")
    clean.done()
    flavor = registry.get_flavor()
    flavor.require(Capability.REGISTER_MODEL)
    with transaction.atomic():
        _refuse_case_clash(registry, name)
        if ModelRegistration.objects.filter(registry=registry, name=name).exists():
            raise Conflict(f"Model '{name}' already exists in registry '{registry.name}'.")
        flavor.register_model(name=name, description=description, tags=tags)
        try:
            with transaction.atomic():
                return ModelRegistration.objects.create(
                    registry=registry,
                    name=name,
                    description=description,
                    tags=tags,
                    created_by=_real_user(user),
                )
        except IntegrityError:
            raise Conflict(f"Model '{name}' already exists in registry '{registry.name}'.")


def registration_update(
    *,
    registration: ModelRegistration,
    description: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    protected_aliases: list[str] | None = UNSET,
    user,
) -> ModelRegistration:
    """Change the description; merge `tags` (a None value removes that tag).

    `protected_aliases` replaces the aliases only promoters may move (None: the default
    from settings); changing it needs the promote permission, or the gate would be moot."""
    _require(user, "change_modelregistration")
    clean = Cleaner()
    if description is not None:
        description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags", allow_delete=True)
    if protected_aliases is not UNSET and protected_aliases is not None:
        protected_aliases = clean(clean_alias_list, protected_aliases, field="protected_aliases")
    clean.done()
    if protected_aliases is not UNSET:
        _require(user, "promote_modelversion")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.UPDATE_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        # Merged first: a result over the limits is refused before the backend is written.
        merged_tags = merge_patch(registration.tags, tags or {}, field="tags")
        if description is not None or tags:
            flavor.update_model(name=registration.name, description=description, tags=tags or None)
        if protected_aliases is not UNSET:
            registration.protected_aliases = protected_aliases
        if description is not None:
            registration.description = description
        if tags:
            registration.tags = merged_tags
        registration.save()
    return registration


def registration_rename(
    *, registration: ModelRegistration, new_name: str, user
) -> ModelRegistration:
    _require(user, "change_modelregistration")
    new_name = clean_name(new_name)
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.RENAME_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        if new_name == registration.name:
            return registration
        _refuse_case_clash(registration.registry, new_name, exclude_pk=registration.pk)
        if ModelRegistration.objects.filter(registry=registration.registry, name=new_name).exists():
            raise Conflict(
                f"Model '{new_name}' already exists in registry '{registration.registry.name}'."
            )
        flavor.rename_model(name=registration.name, new_name=new_name)
        registration.name = new_name
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError:  # taken by a concurrent rename or create
            raise Conflict(
                f"Model '{new_name}' already exists in registry '{registration.registry.name}'."
            )
    return registration


def registration_delete(*, registration: ModelRegistration, user) -> None:
    """Delete a registration with its versions, aliases and stage history (with a version
    in Production or a protected alias, only a user allowed to promote may)."""
    _require(user, "delete_modelregistration")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.DELETE_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        _require_promote_gate(
            user,
            registration=registration,
            stages=registration.versions.values_list("stage", flat=True).distinct(),
            aliases=registration.aliases.values_list("name", flat=True),
        )
        flavor.delete_model(name=registration.name)
        registration.delete()
