"""What every service shares: permission checks, the acting user's name, row locks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from models_app.models import (
    ModelRegistration,
    ModelVersionStage,
)

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


def _lock_registration(pk: int) -> ModelRegistration:
    return ModelRegistration.objects.select_for_update().select_related("registry").get(pk=pk)
