"""Registrations: create, update (with rename), delete.

Each write runs in the frame of services._backend: the backend first, the local index after.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import Conflict
from models_app.flavors import Capability
from models_app.models import (
    ModelRegistration,
    Registry,
)
from models_app.services._approval import clean_gate
from models_app.services._backend import name_write, refuse_trashed_name, registration_write
from models_app.services._common import (
    UNSET,
    _lock_registration,
    _real_user,
    _refuse_case_clash,
    _require,
)
from models_app.services.roles import grant_owner_to_creator
from models_app.services.trash import move_registration_to_trash
from models_app.validation import (
    Cleaner,
    clean_alias_list,
    clean_card,
    clean_name,
    clean_str_map,
    clean_text,
    merge_patch,
)

# The registration's own fields an audit event reports.
_AUDITED = (
    "name",
    "description",
    "tags",
    "protected_aliases",
    "card",
    "approval_required",
    "promotion_gate",
)


def _taken(registry: Registry, name: str) -> Conflict:
    return Conflict(f"Model '{name}' already exists in registry '{registry.name}'.")


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
    with name_write(registry, name):
        with transaction.atomic():  # it locks the registry row: a short transaction of its own
            _refuse_case_clash(registry, name)
        if ModelRegistration.objects.filter(registry=registry, name=name).exists():
            raise _taken(registry, name)
        refuse_trashed_name(registry, name)
        flavor.register_model(name=name, description=description, tags=tags)
        try:
            with transaction.atomic():
                _refuse_case_clash(registry, name)
                registration = ModelRegistration.objects.create(
                    registry=registry,
                    name=name,
                    description=description,
                    tags=tags,
                    created_by=_real_user(user),
                )
                grant_owner_to_creator(registration, user)
                audit.record(
                    action=audit.CREATE,
                    user=user,
                    obj=registration,
                    changes=audit.created(audit.snapshot(registration, _AUDITED)),
                )
                return registration
        except IntegrityError:
            raise _taken(registry, name)


def registration_update(
    *,
    registration: ModelRegistration,
    description: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    protected_aliases: list[str] | None = UNSET,
    approval_required: bool = UNSET,
    promotion_gate: str = UNSET,
    name: str | None = None,
    card: Mapping[str, str | None] | None = None,
    user,
) -> ModelRegistration:
    """Change the description, merge `tags` (a None value removes that tag), and rename to
    `name` if given and different.

    `protected_aliases` replaces the aliases only promoters may move (None: the default
    from settings); changing it needs the promote permission, or the gate would be moot.

    `approval_required` (a contributor's move to Production becomes a request) and
    `promotion_gate` (metric conditions a version must meet to reach Production, e.g.
    `accuracy >= 0.9`; "" for none) are the owner's to change. They live only in the index.

    The rename reaches the backend first and is committed locally at once, then the other
    changes: if the second backend call fails, the backend and the index both hold the new
    name and neither holds the other changes. The rename goes first because it is the change
    a backend most often refuses (a name taken there), and then nothing has changed anywhere.

    `card` patches the model card (section -> Markdown; empty or None removes a section);
    it is kept locally only, in the same transaction as the other local changes.
    """
    access.require(user, registration, Role.CONTRIBUTOR, "edit it")
    clean = Cleaner()
    if description is not None:
        description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags", allow_delete=True)
    if protected_aliases is not UNSET and protected_aliases is not None:
        protected_aliases = clean(clean_alias_list, protected_aliases, field="protected_aliases")
    if name is not None:
        name = clean(clean_name, name)
    card = clean(clean_card, card)
    if promotion_gate is not UNSET:
        promotion_gate = clean(clean_gate, promotion_gate)
    if approval_required is not UNSET and not isinstance(approval_required, bool):
        clean.errors.setdefault("approval_required", []).append("Give true or false.")
    clean.done()
    if protected_aliases is not UNSET:
        access.require(user, registration, Role.OWNER, "choose its protected aliases")
    if name is not None and name != registration.name:
        access.require(user, registration, Role.OWNER, "rename it")
    workflow = {
        field: value
        for field, value in (
            ("approval_required", approval_required),
            ("promotion_gate", promotion_gate),
        )
        if value is not UNSET
    }
    if workflow:
        access.require(user, registration, Role.OWNER, "change its approval workflow")
    registry = registration.registry
    flavor = registry.get_flavor()
    remote_changes = description is not None or bool(tags)
    if remote_changes or protected_aliases is not UNSET or name is None:
        flavor.require(Capability.UPDATE_MODEL)
    if name is not None and name != registration.name:
        flavor.require(Capability.RENAME_MODEL)
    with registration_write(registration, *([name] if name else [])) as registration:
        # Merged first: a result over the limits is refused before the backend is written.
        merge_patch(registration.tags, tags or {}, field="tags")
        if name is not None and name != registration.name:
            with transaction.atomic():
                _refuse_case_clash(registry, name, exclude_pk=registration.pk)
            if ModelRegistration.objects.filter(registry=registry, name=name).exists():
                raise _taken(registry, name)
            refuse_trashed_name(registry, name)
            flavor.rename_model(name=registration.name, new_name=name)
            try:
                with transaction.atomic():
                    _refuse_case_clash(registry, name, exclude_pk=registration.pk)
                    registration = _lock_registration(registration.pk)
                    old_name, registration.name = registration.name, name
                    registration.save()
                    audit.record(
                        action=audit.UPDATE,
                        user=user,
                        obj=registration,
                        changes={"name": {"before": old_name, "after": name}},
                        comment=f"Renamed from '{old_name}'.",
                    )
            except IntegrityError:  # taken by a concurrent rename or create
                raise _taken(registry, name)
        if remote_changes:
            flavor.update_model(name=registration.name, description=description, tags=tags or None)
        if remote_changes or protected_aliases is not UNSET or card or workflow:
            with transaction.atomic():
                registration = _lock_registration(registration.pk)
                before = audit.snapshot(registration, _AUDITED)
                for field, value in workflow.items():
                    setattr(registration, field, value)
                if protected_aliases is not UNSET:
                    registration.protected_aliases = protected_aliases
                if description is not None:
                    registration.description = description
                if tags:
                    registration.tags = merge_patch(registration.tags, tags, field="tags")
                if card:
                    registration.card = {
                        key: text
                        for key, text in {**registration.card, **card}.items()
                        if text is not None
                    }
                registration.save()
                changes = audit.diff(before, audit.snapshot(registration, _AUDITED))
                if changes:
                    audit.record(action=audit.UPDATE, user=user, obj=registration, changes=changes)
    return registration


def registration_rename(
    *, registration: ModelRegistration, new_name: str, user
) -> ModelRegistration:
    return registration_update(registration=registration, name=new_name, user=user)


def registration_delete(*, registration: ModelRegistration, user) -> None:
    """Move a registration with its versions, aliases and stage history to the trash (with
    a version in Production or a protected alias, only a user allowed to promote may)."""
    access.require(user, registration, Role.OWNER, "delete it")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.DELETE_MODEL)
    move_registration_to_trash(registration=registration, user=user)
