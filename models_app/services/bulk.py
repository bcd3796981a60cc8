"""Bulk creation for seeding and imports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from models_app import audit
from models_app.exceptions import CapabilityNotSupported, Conflict
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    Registry,
)
from models_app.services._common import (
    _real_user,
    _refuse_case_clash,
    _require,
)
from models_app.services.versions import clean_new_version
from models_app.validation import (
    Cleaner,
    clean_alias,
    clean_name,
    clean_stage,
    clean_str_map,
    clean_text,
)

REGISTRATION_FIELDS = frozenset({"name", "description", "tags", "versions", "aliases"})
# At most this many bad fields are reported, so a broken import file gives a readable error.
MAX_REPORTED_ERRORS = 20


def _clean_item(item: Any) -> tuple[dict, list[dict], dict[str, int], dict[str, list[str]]]:
    """One registration with its versions and aliases, by the rules of a single create."""
    clean = Cleaner()
    if not isinstance(item, Mapping):
        return {}, [], {}, {"": ["Must be an object with a name and versions."]}
    for unknown in sorted(set(item) - REGISTRATION_FIELDS, key=str):
        clean.errors.setdefault(str(unknown), []).append("Unknown field.")
    registration = {
        "name": clean(clean_name, item.get("name")),
        "description": clean(clean_text, item.get("description"), field="description"),
        "tags": clean(clean_str_map, item.get("tags"), field="tags"),
    }
    raw_versions = item.get("versions") or []
    if not isinstance(raw_versions, list):
        clean.errors.setdefault("versions", []).append("Must be a list of versions.")
        raw_versions = []
    versions = []
    for index, raw in enumerate(raw_versions):
        inner = Cleaner()
        if not isinstance(raw, Mapping):
            inner.errors[""] = ["Must be an object."]
            raw = {}
        fields = {key: value for key, value in raw.items() if key != "stage"}
        version = clean_new_version(inner, fields)
        version["stage"] = inner(clean_stage, raw.get("stage", ModelVersionStage.NONE))
        for field, messages in inner.errors.items():
            clean.errors[f"versions[{index}].{field}".rstrip(".")] = messages
        versions.append(version)
    aliases = {}
    raw_aliases = item.get("aliases") or {}
    if not isinstance(raw_aliases, Mapping):
        clean.errors.setdefault("aliases", []).append("Must be an object of alias: version.")
        raw_aliases = {}
    for alias, number in raw_aliases.items():
        alias = clean(clean_alias, alias)
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= len(versions)
        ):
            clean.errors.setdefault("aliases", []).append(f"Alias '{alias}' points at no version.")
        elif alias:
            aliases[alias] = number
    return registration, versions, aliases, clean.errors


def registrations_bulk_create(
    *, registry: Registry, registrations: list[Mapping[str, Any]], user
) -> int:
    """Insert many new registrations with their versions in one transaction, fast.

    Each item: name, description, tags, versions (a list of dicts with model_source_uri,
    stage, metrics, parameters, tags, lineage fields...), aliases ({alias: version number}),
    checked by the same rules as a single create. Numbers run 1..n per registration; stage
    history is not written for the initial stages. Only a registry whose flavor keeps nothing
    outside the dashboard's index takes bulk writes: rows written behind another backend's
    back would be lost at its next sync, so such a registry is refused.
    """
    _require(user, "add_modelregistration", "add_modelversion")
    flavor = registry.get_flavor()
    if not flavor.writes_only_the_index:
        raise CapabilityNotSupported(
            f"Registry '{registry.name}' (flavor {flavor.name}) cannot take bulk writes: "
            "register its versions one by one so its backend records them."
        )
    errors: dict[str, list[str]] = {}
    items = []
    seen: set[str] = set()
    for index, item in enumerate(registrations):
        registration, versions, aliases, item_errors = _clean_item(item)
        name = registration.get("name")
        if name in seen:
            item_errors.setdefault("name", []).append(f"'{name}' appears twice in this import.")
        seen.add(name)
        for field, messages in item_errors.items():
            if len(errors) < MAX_REPORTED_ERRORS:
                errors[f"registrations[{index}].{field}".rstrip(".")] = messages
        items.append((registration, versions, aliases))
    if errors:
        raise ValidationError(errors)
    names = [registration["name"] for registration, _, _ in items]
    if registry.case_insensitive_names:
        folded = Counter(name.casefold() for name in names)
        repeated = [name for name in names if folded[name.casefold()] > 1]
        if repeated:
            raise Conflict(f"Names differ only by case: {', '.join(repeated[:5])}.")
    creator = _real_user(user)
    try:
        with transaction.atomic():
            for name in names if registry.case_insensitive_names else ():
                _refuse_case_clash(registry, name)
            taken = list(
                ModelRegistration.objects.filter(registry=registry, name__in=names).values_list(
                    "name", flat=True
                )[:5]
            )
            if taken:
                raise Conflict(
                    f"Models already exist in registry '{registry.name}': {', '.join(taken)}."
                )
            created = ModelRegistration.objects.bulk_create(
                [
                    ModelRegistration(
                        registry=registry,
                        last_version_number=len(versions),
                        created_by=creator,
                        **registration,
                    )
                    for registration, versions, _ in items
                ]
            )
            if not created or created[0].pk is None:
                created = list(ModelRegistration.objects.filter(registry=registry, name__in=names))
            by_name = {registration.name: registration for registration in created}
            rows = [
                ModelVersion(
                    registration=by_name[registration["name"]],
                    version=number,
                    created_by=creator,
                    **version,
                )
                for registration, versions, _ in items
                for number, version in enumerate(versions, start=1)
            ]
            ModelVersion.objects.bulk_create(rows, batch_size=500)
            # One event per registration, naming its versions and aliases (not one per row:
            # an import of many versions stays one insert per 500 registrations).
            audit.record_many(
                audit.event(
                    action=audit.CREATE,
                    user=user,
                    object_type="registration",
                    object_id=str(by_name[registration["name"]].pk or ""),
                    registry_name=registry.name,
                    registration_name=registration["name"],
                    object_repr=f"{registry.name}/{registration['name']}",
                    changes=audit.created(
                        {
                            **registration,
                            "versions": {
                                str(number): version["stage"]
                                for number, version in enumerate(versions, start=1)
                            },
                            "aliases": aliases,
                        }
                    ),
                    comment=f"Imported with {len(versions)} version(s).",
                )
                for registration, versions, aliases in items
            )
            wanted = [
                (by_name[registration["name"]], alias, number)
                for registration, _, aliases in items
                for alias, number in aliases.items()
            ]
            if wanted:
                if rows[0].pk is None:  # a database that does not return ids from bulk inserts
                    ids = dict(
                        ((row[0], row[1]), row[2])
                        for row in ModelVersion.objects.filter(
                            registration__in=created
                        ).values_list("registration_id", "version", "pk")
                    )
                else:
                    ids = {(v.registration_id, v.version): v.pk for v in rows}
                ModelAlias.objects.bulk_create(
                    [
                        ModelAlias(
                            registration=registration,
                            name=alias,
                            version_id=ids[(registration.pk, number)],
                        )
                        for registration, alias, number in wanted
                    ],
                    batch_size=500,
                )
    except IntegrityError:  # a name taken by a concurrent create since the check above
        raise Conflict(f"Some of these models were just created in registry '{registry.name}'.")
    return len(rows)
