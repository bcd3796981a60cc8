"""Flavor lookup. Only known flavors are ever imported: the built-in ones, those named in
settings.MODEL_REGISTRY_FLAVORS, and those an operator registered from the shell
(`manage.py model_registry flavor register <dotted.path>`). A name from a request that is
none of these is refused before anything is imported."""

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
    "import_flavor",
]

BUILTIN_FLAVORS = {
    "builtin": "models_app.flavors.builtin.BuiltinFlavor",
    "mlflow": "models_app.flavors.mlflow.MlflowFlavor",
}


def _configured() -> dict[str, str]:
    return {**BUILTIN_FLAVORS, **getattr(settings, "MODEL_REGISTRY_FLAVORS", {})}


def _registered() -> dict[str, str]:
    from models_app.models import RegisteredFlavor

    return dict(RegisteredFlavor.objects.values_list("name", "class_path"))


def _known() -> dict[str, str]:
    return {**_registered(), **_configured()}


def _path_of(flavor: str) -> str | None:
    if not isinstance(flavor, str):
        return None
    path = _configured().get(flavor)
    if path is None:
        from models_app.models import RegisteredFlavor

        path = (
            RegisteredFlavor.objects.filter(name=flavor)
            .values_list("class_path", flat=True)
            .first()
        )
    return path


def import_flavor(path: str, *, field: str = "flavor") -> type[BaseFlavor]:
    """Import a dotted path and check it is a flavor. Only for paths an operator named."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ValidationError({field: f"Cannot import flavor '{path}': {exc}"})
    if not (isinstance(cls, type) and issubclass(cls, BaseFlavor)):
        raise ValidationError({field: f"'{path}' is not a subclass of BaseFlavor."})
    missing = cls.missing_methods()
    if missing:
        lacking = "; ".join(f"{cap} needs {', '.join(names)}" for cap, names in missing.items())
        raise ValidationError(
            {field: f"Flavor '{path}' declares more than it implements: {lacking}."}
        )
    return cls


def flavor_class(flavor: str) -> type[BaseFlavor]:
    """The class of a known flavor; ValidationError (nothing imported) for any other name."""
    path = _path_of(flavor)
    if path is None:
        raise ValidationError(
            {
                "flavor": f"Unknown flavor {str(flavor)[:100]!r}. Known flavors: "
                f"{', '.join(sorted(_known()))} (an operator adds one with "
                "`manage.py model_registry flavor register <dotted.path>`)."
            }
        )
    return import_flavor(path)


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
    configured, registered = _configured(), _registered()
    flavors = [
        {
            "name": name,
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "description": cls.description,
            "capabilities": sorted(cls.capabilities),
            "source": "built-in"
            if name in BUILTIN_FLAVORS
            else "settings"
            if name in configured
            else "registered"
            if name in registered
            else "",
        }
        for name, cls in available_flavors().items()
    ]
    order = {"built-in": 0, "settings": 1, "registered": 2}
    return sorted(flavors, key=lambda f: (order.get(f["source"], 3), f["name"]))


def flavor_for(registry: Registry) -> BaseFlavor:
    return flavor_class(registry.flavor)(registry)
