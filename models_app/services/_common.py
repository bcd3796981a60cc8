"""What every service shares: permission checks, the acting user's name, row locks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied

from models_app import access, selectors
from models_app.access import Role
from models_app.exceptions import Conflict
from models_app.models import (
    ModelRegistration,
    ModelVersionStage,
    Registry,
)
from models_app.names import name_key

SYSTEM_ACTOR = "system"
ACTIVE_STAGES = (ModelVersionStage.STAGING, ModelVersionStage.PRODUCTION)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _require(user, *perms: str) -> None:
    if user is None:
        return
    if not user.is_active or not user.has_perms([f"models_app.{perm}" for perm in perms]):
        raise PermissionDenied(f"You do not have permission to do this (needs {', '.join(perms)}).")


def _actor_name(user) -> str:
    return user.get_username() if user is not None else SYSTEM_ACTOR


def _real_user(user):
    return user if user is not None and user.is_authenticated else None


def _lock_registration(pk: int, *, include_trashed: bool = False) -> ModelRegistration:
    manager = ModelRegistration.all_objects if include_trashed else ModelRegistration.objects
    return manager.select_for_update().select_related("registry").get(pk=pk)


def _protected_aliases(registration: ModelRegistration) -> frozenset[str]:
    return frozenset(name.casefold() for name in selectors.protected_aliases(registration))


def _require_promote_gate(
    user,
    *,
    registration: ModelRegistration,
    stages: Iterable[str] = (),
    aliases: Iterable[str] = (),
) -> None:
    """The promote gate, for every path by which a version reaches or leaves Production:
    a stage change into or out of it (archiving included), deleting a Production version,
    and setting, moving or deleting a protected alias (aliases deploy too)."""
    stages = set(stages)
    touches_alias = bool(_protected_aliases(registration) & {a.casefold() for a in aliases})
    if ModelVersionStage.PRODUCTION in stages:
        access.require(
            user,
            registration,
            Role.APPROVER,
            "promote a version to Production or move one out of it",
        )
    elif ModelVersionStage.ARCHIVED in stages:
        access.require(user, registration, Role.APPROVER, "archive a version or bring one back")
    if touches_alias:
        access.require(user, registration, Role.APPROVER, "change a protected alias")


def _refuse_case_clash(registry: Registry, name: str, *, exclude_pk: int | None = None) -> None:
    """In a registry with case-insensitive names, a name that differs from an existing one
    only by case is taken. Locks the registry row first, so concurrent creates queue here."""
    if not registry.case_insensitive_names:
        return
    Registry.objects.select_for_update().filter(pk=registry.pk).first()
    folded = name.casefold()
    for other in (
        ModelRegistration.objects.filter(registry=registry, name_key=name_key(name))
        .exclude(pk=exclude_pk)
        .values_list("name", flat=True)
    ):
        if other != name and other.casefold() == folded:
            raise Conflict(
                f"Model '{other}' already exists in registry '{registry.name}', whose names "
                "are case-insensitive."
            )
