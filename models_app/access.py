"""Who may do what to a registration: one role per user and registration, from three sources.

- A grant on the registration (`RegistrationRole`), to the user or to one of their groups.
- A global role from Django permissions, so groups managed in the admin still work on every
  registration: any add/change/delete permission on versions or registrations makes a
  contributor, `promote_modelversion` an approver, `promote_modelversion` with a delete
  permission an owner; a superuser is an administrator.
- The default for every signed-in user, `MODEL_REGISTRY_DEFAULT_ROLE` (`viewer` or `none`).

The highest of the three wins. `user=None` is a trusted operator (a management command run on
the server without `--user`) and acts as an administrator. Roles are ordered: each includes
the ones below it.
"""

from __future__ import annotations

import enum

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet

from models_app.exceptions import NotFound


class Role(enum.IntEnum):
    NONE = 0
    VIEWER = 1
    CONTRIBUTOR = 2
    APPROVER = 3
    OWNER = 4
    ADMIN = 5

    @property
    def label(self) -> str:
        return "administrator" if self is Role.ADMIN else self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Role:
        """A grantable role from its name (`viewer`, `contributor`, `approver`, `owner`)."""
        role = GRANTABLE.get(str(name).strip().lower())
        if role is None:
            raise ValueError(f"Unknown role {name!r}: use one of {', '.join(GRANTABLE)}.")
        return role


GRANTABLE = {
    role.label: role for role in (Role.VIEWER, Role.CONTRIBUTOR, Role.APPROVER, Role.OWNER)
}

_CONTRIBUTOR_PERMISSIONS = (
    "add_modelversion",
    "change_modelversion",
    "delete_modelversion",
    "change_modelregistration",
    "delete_modelregistration",
)
_DELETE_PERMISSIONS = ("delete_modelregistration", "delete_modelversion")


def default_role() -> Role:
    name = str(getattr(settings, "MODEL_REGISTRY_DEFAULT_ROLE", "viewer")).strip().lower()
    if name == "none":
        return Role.NONE
    if name == "viewer":
        return Role.VIEWER
    raise ImproperlyConfigured(
        f"MODEL_REGISTRY_DEFAULT_ROLE must be 'viewer' or 'none', not {name!r}."
    )


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def base_role(user) -> Role:
    """The role a user holds on every registration, before grants on any one of them."""
    if user is None:
        return Role.ADMIN
    if not _signed_in(user):
        return Role.NONE
    if user.is_superuser:
        return Role.ADMIN
    held = {perm for perm in _CONTRIBUTOR_PERMISSIONS if user.has_perm(f"models_app.{perm}")}
    role = Role.CONTRIBUTOR if held else Role.NONE
    # Owners include approvers, so deleting alone never lets anyone promote.
    if user.has_perm("models_app.promote_modelversion"):
        role = Role.OWNER if held & set(_DELETE_PERMISSIONS) else Role.APPROVER
    return max(role, default_role())


def _grants(user):
    from models_app.models import RegistrationRole

    return RegistrationRole.objects.filter(Q(user=user) | Q(group__user=user))


def granted_role(user, registration) -> Role:
    """The highest role granted on this registration to the user or their groups."""
    if not _signed_in(user) or registration.pk is None:
        return Role.NONE
    cache = user.__dict__.setdefault("_registration_roles", {})
    if registration.pk not in cache:
        names = _grants(user).filter(registration=registration).values_list("role", flat=True)
        cache[registration.pk] = max((GRANTABLE[name] for name in names), default=Role.NONE)
    return cache[registration.pk]


def forget(user) -> None:
    """Drop the roles cached on this user object (after their grants changed)."""
    if user is not None:
        user.__dict__.pop("_registration_roles", None)


def role_of(user, registration) -> Role:
    base = base_role(user)
    if base >= Role.OWNER:
        return base
    return max(base, granted_role(user, registration))


def _holds_everywhere(user, role: Role) -> bool:
    """Whether the user holds `role` on every registration; the default role is checked before
    the global permissions, so a read by a signed-in user costs no query."""
    if user is None:
        return True
    if not _signed_in(user):
        return False
    return user.is_superuser or default_role() >= role or base_role(user) >= role


def can(user, registration, role: Role) -> bool:
    return _holds_everywhere(user, role) or granted_role(user, registration) >= role


def require(user, registration, role: Role, action: str) -> None:
    """Refuse with PermissionDenied unless the user holds `role` on the registration;
    a user who may not even read it is told it does not exist."""
    if can(user, registration, role):
        return
    held = role_of(user, registration)
    if held < Role.VIEWER:
        # Word for word what a missing model answers, so the two cannot be told apart.
        registry = registration.registry.name
        raise NotFound(f"Model '{registration.name}' does not exist in registry '{registry}'.")
    raise PermissionDenied(
        f"You do not have permission to {action} on model '{registration.name}': "
        f"that needs the {role.label} role, and yours is {held.label}."
    )


def require_read(user, registration) -> None:
    require(user, registration, Role.VIEWER, "read it")


def readable(user, queryset: QuerySet, registration_field: str = "") -> QuerySet:
    """Only the rows the user may read. `registration_field` is the path from the queryset's
    model to its ModelRegistration ("" for registrations themselves, "registration" for
    versions)."""
    if _holds_everywhere(user, Role.VIEWER):
        return queryset
    if not _signed_in(user):
        return queryset.none()
    outer = f"{registration_field}__pk" if registration_field else "pk"
    return queryset.filter(Exists(_grants(user).filter(registration=OuterRef(outer))))


def readable_registrations(user, queryset: QuerySet | None = None) -> QuerySet:
    if queryset is None:
        from models_app.models import ModelRegistration

        queryset = ModelRegistration.objects.all()
    return readable(user, queryset)


def readable_versions(user, queryset: QuerySet) -> QuerySet:
    return readable(user, queryset, "registration")


def reads_everything(user) -> bool:
    """True when the user reads every registration, so no listing needs filtering."""
    return _holds_everywhere(user, Role.VIEWER)
