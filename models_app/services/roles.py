"""Roles on a registration: grant, revoke. Reading them: selectors.role_list; checking: access."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from models_app import access, audit
from models_app.exceptions import Conflict, NotFound
from models_app.models import ModelRegistration, RegistrationRole, RoleName
from models_app.services._common import _actor_name, _lock_registration
from models_app.validation import clean_text

PRINCIPAL_MAX_LENGTH = 151  # "@" + a group name of 150


def resolve_principal(principal: str):
    """`alice` names a user, `@reviewers` a group; returns the User or Group."""
    text = clean_text(principal, field="principal", max_length=PRINCIPAL_MAX_LENGTH).strip()
    if not text or text == "@":
        raise ValidationError({"principal": "Name a user, or a group as @group."})
    if text.startswith("@"):
        group = Group.objects.filter(name=text[1:]).first()
        if group is None:
            raise NotFound(f"Group '{text[1:]}' does not exist.")
        return group
    user = get_user_model()._default_manager.filter(username=text).first()
    if user is None:
        raise NotFound(f"User '{text}' does not exist.")
    return user


def _principal_filter(principal) -> dict:
    return {"group": principal} if isinstance(principal, Group) else {"user": principal}


def _principal_name(principal) -> str:
    return f"@{principal.name}" if isinstance(principal, Group) else principal.get_username()


def _refuse_losing_last_owner(registration: ModelRegistration, principal) -> None:
    owners = RegistrationRole.objects.filter(registration=registration, role=RoleName.OWNER)
    if owners.exists() and not owners.exclude(**_principal_filter(principal)).exists():
        raise Conflict(
            f"{_principal_name(principal)} is the last owner of model '{registration.name}': "
            "grant the owner role to someone else first."
        )


def grant_owner_to_creator(registration: ModelRegistration, user) -> None:
    """Inside the creating transaction: the user who creates a registration owns it."""
    if user is not None and user.is_authenticated:
        RegistrationRole.objects.create(
            registration=registration,
            user=user,
            role=RoleName.OWNER,
            granted_by=_actor_name(user),
        )
        _record(registration, user, user, before=None, after=RoleName.OWNER)
        access.forget(user)


def _record(registration: ModelRegistration, principal, user, *, before, after) -> None:
    name = _principal_name(principal)
    audit.record(
        action=audit.ROLE,
        user=user,
        object_type="role",
        object_id=name,
        **{**audit.at(registration), "object_repr": f"{name} on {registration}"},
        changes={"role": {"before": before, "after": after}},
    )


def role_grant(
    *, registration: ModelRegistration, principal: str, role: str, user
) -> RegistrationRole:
    """Give a user or @group a role on the registration, replacing the one they had."""
    access.require(user, registration, access.Role.OWNER, "manage its roles")
    try:
        role = access.Role.parse(role).label
    except ValueError as exc:
        raise ValidationError({"role": str(exc)})
    target = resolve_principal(principal)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        if role != RoleName.OWNER:
            _refuse_losing_last_owner(registration, target)
        before = (
            RegistrationRole.objects.filter(registration=registration, **_principal_filter(target))
            .values_list("role", flat=True)
            .first()
        )
        grant, _ = RegistrationRole.objects.update_or_create(
            registration=registration,
            **_principal_filter(target),
            defaults={"role": role, "granted_by": _actor_name(user)},
        )
        if before != role:
            _record(registration, target, user, before=before, after=role)
    access.forget(target if not isinstance(target, Group) else None)
    return grant


def role_revoke(*, registration: ModelRegistration, principal: str, user) -> None:
    """Take away the role a user or @group was granted on the registration."""
    access.require(user, registration, access.Role.OWNER, "manage its roles")
    target = resolve_principal(principal)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        grants = RegistrationRole.objects.filter(
            registration=registration, **_principal_filter(target)
        )
        if not grants.exists():
            raise NotFound(
                f"{_principal_name(target)} holds no role on model '{registration.name}'."
            )
        _refuse_losing_last_owner(registration, target)
        before = grants.values_list("role", flat=True).first()
        grants.delete()
        _record(registration, target, user, before=before, after=None)
    access.forget(target if not isinstance(target, Group) else None)
