"""Registries: the configured backends."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from models_app import audit, selectors
from models_app.exceptions import Conflict
from models_app.flavors import flavor_class
from models_app.models import (
    DEFAULT_REGISTRY,
    ModelRegistration,
    Registry,
)
from models_app.services._common import (
    _require,
)
from models_app.validation import (
    Cleaner,
    clean_registry_name,
    clean_text,
)

_AUDITED = ("name", "flavor", "config", "description", "case_insensitive_names")


def registry_create(
    *,
    name: str,
    flavor: str = "builtin",
    config: Mapping | None = None,
    description: str = "",
    case_insensitive_names: bool = False,
    user,
) -> Registry:
    _require(user, "add_registry")
    clean = Cleaner()
    name = clean(clean_registry_name, name)
    flavor_cls = clean(flavor_class, flavor)
    config = clean(flavor_cls.validate_config, config or {}) if flavor_cls else None
    description = clean(clean_text, description, field="description")
    clean.done()
    try:
        with transaction.atomic():
            registry = Registry.objects.create(
                name=name,
                flavor=flavor,
                config=config,
                description=description,
                case_insensitive_names=bool(case_insensitive_names),
            )
            audit.record(
                action=audit.CREATE,
                user=user,
                obj=registry,
                changes=audit.created(audit.snapshot(registry, _AUDITED)),
            )
            return registry
    except IntegrityError:
        raise Conflict(f"A registry named '{name}' already exists.")


def registry_update(
    *,
    registry: Registry,
    config: Mapping | None = None,
    description: str | None = None,
    case_insensitive_names: bool | None = None,
    user,
) -> Registry:
    """Change a registry's settings. Turning on case-insensitive names is refused while
    names that differ only by case exist (they are listed, for an operator to rename)."""
    _require(user, "change_registry")
    clean = Cleaner()
    if config is not None:
        config = clean(flavor_class(registry.flavor).validate_config, config)
    if description is not None:
        description = clean(clean_text, description, field="description")
    clean.done()
    with transaction.atomic():
        registry = Registry.objects.select_for_update().get(pk=registry.pk)
        before = audit.snapshot(registry, _AUDITED)
        if config is not None:
            registry.config = config
        if description is not None:
            registry.description = description
        if case_insensitive_names and not registry.case_insensitive_names:
            clashes = selectors.case_clashes(registry)
            if clashes:
                raise Conflict(
                    "Names differ only by case here: "
                    + "; ".join(", ".join(group) for group in clashes[:5])
                    + ". Rename them first."
                )
        if case_insensitive_names is not None:
            registry.case_insensitive_names = bool(case_insensitive_names)
        registry.save()
        changes = audit.diff(before, audit.snapshot(registry, _AUDITED))
        if changes:
            audit.record(action=audit.UPDATE, user=user, obj=registry, changes=changes)
    return registry


def registry_delete(*, registry: Registry, user) -> None:
    _require(user, "delete_registry")
    if registry.name == DEFAULT_REGISTRY:
        raise ValidationError({"name": "The default registry cannot be deleted."})
    with transaction.atomic():
        if registry.registrations.exists():
            raise Conflict(f"Registry '{registry.name}' still holds models; delete them first.")
        if ModelRegistration.all_objects.filter(registry=registry).exists():
            raise Conflict(
                f"Registry '{registry.name}' still holds models in the trash; purge them first."
            )
        audit.record(
            action=audit.DELETE,
            user=user,
            obj=registry,
            changes=audit.deleted(audit.snapshot(registry, _AUDITED)),
        )
        registry.delete()


def registry_connection_test(*, flavor: str, config: Mapping | None, user) -> str:
    """Check that a registry with this flavor and config would reach its backend, before it
    is saved: the config passes the same checks as registry_create (backend addresses by the
    outbound-address rule), then the flavor makes one small read. Nothing is written."""
    _require(user, "add_registry")
    clean = Cleaner()
    flavor_cls = clean(flavor_class, flavor)
    config = clean(flavor_cls.validate_config, config or {}) if flavor_cls else None
    clean.done()
    unsaved = Registry(name="connection-test", flavor=flavor, config=config)
    return flavor_cls(unsaved).check_connection()
