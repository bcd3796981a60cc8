"""Flavors an operator adds from the shell; the only custom classes the server imports."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from models_app import audit
from models_app.exceptions import Conflict
from models_app.flavors import BUILTIN_FLAVORS, _configured, import_flavor
from models_app.models import RegisteredFlavor
from models_app.services._common import _require

_FLAVOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def flavor_register(*, class_path: str, name: str | None = None, user) -> RegisteredFlavor:
    """Import `class_path`, check it implements the flavor interface, and store it under
    `name` (default: the class's own `name`) so registries may use it."""
    _require(user, "add_registeredflavor")
    if not isinstance(class_path, str) or not re.fullmatch(
        r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", class_path[:255]
    ):
        raise ValidationError({"class_path": "Give the class as a dotted path (package.Class)."})
    cls = import_flavor(class_path, field="class_path")
    name = name or getattr(cls, "name", "")
    if not isinstance(name, str) or not _FLAVOR_NAME.match(name):
        raise ValidationError(
            {"name": "Flavor name may use letters, digits, '.', '-' and '_' (at most 100)."}
        )
    if name in _configured():
        source = "built in" if name in BUILTIN_FLAVORS else "set in settings"
        raise Conflict(f"Flavor '{name}' is {source}.")
    try:
        with transaction.atomic():
            flavor = RegisteredFlavor.objects.create(name=name, class_path=class_path)
            audit.record(
                action=audit.CREATE,
                user=user,
                obj=flavor,
                changes=audit.created({"name": name, "class_path": class_path}),
            )
            return flavor
    except IntegrityError:
        raise Conflict(f"A flavor named '{name}' is already registered.")
