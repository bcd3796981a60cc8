"""Flavor lookup: `builtin`, `mlflow`, settings.MODEL_REGISTRY_FLAVORS, or a dotted path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from models_app.flavors.base import BaseFlavor, Capability

if TYPE_CHECKING:
    from models_app.models import Registry

__all__ = [
    "BaseFlavor",
    "Capability",
    "available_flavors",
    "describe_flavors",
    "flavor_class",
    "flavor_for",
]

BUILTIN_FLAVORS = {
    "builtin": "models_app.flavors.builtin.BuiltinFlavor",
    "mlflow": "models_app.flavors.mlflow.MlflowFlavor",
}


def _known() -> dict[str, str]:
    return {**BUILTIN_FLAVORS, **getattr(settings, "MODEL_REGISTRY_FLAVORS", {})}


def flavor_class(flavor: str) -> type[BaseFlavor]:
    """The class for a flavor name or dotted path; ValidationError if there is none."""
    path = _known().get(flavor, flavor)
    if "." not in path or not all(part.isidentifier() for part in path.split(".")):
        raise ValidationError(
            {"flavor": f"Unknown flavor '{flavor}'. Known flavors: {', '.join(sorted(_known()))}."}
        )
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ValidationError({"flavor": f"Cannot import flavor '{flavor}': {exc}"})
    if not (isinstance(cls, type) and issubclass(cls, BaseFlavor)):
        raise ValidationError({"flavor": f"'{flavor}' is not a subclass of BaseFlavor."})
    missing = cls.missing_methods()
    if missing:
        lacking = "; ".join(f"{cap} needs {', '.join(names)}" for cap, names in missing.items())
        raise ValidationError(
            {"flavor": f"Flavor '{flavor}' declares more than it implements: {lacking}."}
        )
    return cls


def available_flavors() -> dict[str, type[BaseFlavor]]:
    """Every flavor that can be loaded here, by name (a broken custom one is left out)."""
    found = {}
    for name in _known():
        try:
            found[name] = flavor_class(name)
        except ValidationError:
            continue
    return found


def describe_flavors() -> list[dict]:
    """Each available flavor as the CLI, API and pages list it."""
    return [
        {
            "name": name,
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "description": cls.description,
            "capabilities": sorted(cls.capabilities),
        }
        for name, cls in sorted(available_flavors().items())
    ]


def flavor_for(registry: Registry) -> BaseFlavor:
    return flavor_class(registry.flavor)(registry)
