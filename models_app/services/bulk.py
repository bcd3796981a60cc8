"""Bulk creation for seeding and imports."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from models_app.exceptions import Conflict
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
from models_app.validation import (
    Cleaner,
    clean_alias,
    clean_metrics,
    clean_name,
    clean_stage,
    clean_uri,
)


def registrations_bulk_create(
    *, registry: Registry, registrations: list[Mapping[str, Any]], user
) -> int:
    """Insert many new registrations with their versions in one transaction, fast.

    Each item: name, description, tags, versions (a list of dicts with model_source_uri,
    stage, metrics, parameters, tags, lineage fields...), aliases ({alias: version number}).
    Numbers run 1..n per registration.
    For seeding and imports; stage history is not written for the initial stages.
    """
    _require(user, "add_modelregistration", "add_modelversion")
    clean = Cleaner()
    for item in registrations:
        clean(clean_name, item["name"])
        for version in item.get("versions", []):
            clean(clean_uri, version["model_source_uri"])
            clean(clean_stage, version.get("stage", ModelVersionStage.NONE))
            clean(clean_metrics, version.get("metrics"))
        for alias, number in (item.get("aliases") or {}).items():
            clean(clean_alias, alias)
            if not 1 <= number <= len(item.get("versions", [])):
                clean.errors.setdefault("aliases", []).append(
                    f"Alias '{alias}' of '{item['name']}' points at no version."
                )
    clean.done()
    registrations = [
        {**item, "name": unicodedata.normalize("NFKC", item["name"])} for item in registrations
    ]
    names = [item["name"] for item in registrations]
    if registry.case_insensitive_names:
        folded = Counter(name.casefold() for name in names)
        repeated = [name for name in names if folded[name.casefold()] > 1]
        if repeated:
            raise Conflict(f"Names differ only by case: {', '.join(repeated[:5])}.")
    taken = list(
        ModelRegistration.objects.filter(registry=registry, name__in=names).values_list(
            "name", flat=True
        )[:5]
    )
    if taken:
        raise Conflict(f"Models already exist in registry '{registry.name}': {', '.join(taken)}.")
    with transaction.atomic():
        for name in names if registry.case_insensitive_names else ():
            _refuse_case_clash(registry, name)
        created = ModelRegistration.objects.bulk_create(
            [
                ModelRegistration(
                    registry=registry,
                    name=item["name"],
                    description=item.get("description", ""),
                    tags=dict(item.get("tags") or {}),
                    last_version_number=len(item.get("versions", [])),
                    created_by=_real_user(user),
                )
                for item in registrations
            ]
        )
        if not created or created[0].pk is None:
            created = list(ModelRegistration.objects.filter(registry=registry, name__in=names))
        by_name = {registration.name: registration for registration in created}
        versions = [
            ModelVersion(
                registration=by_name[item["name"]],
                version=number,
                created_by=_real_user(user),
                **{**version, "stage": clean_stage(version.get("stage", "None"))},
            )
            for item in registrations
            for number, version in enumerate(item.get("versions", []), start=1)
        ]
        ModelVersion.objects.bulk_create(versions, batch_size=500)
        wanted = [
            (by_name[item["name"]], alias, number)
            for item in registrations
            for alias, number in (item.get("aliases") or {}).items()
        ]
        if wanted:
            if versions[0].pk is None:
                ids = dict(
                    ((row[0], row[1]), row[2])
                    for row in ModelVersion.objects.filter(registration__in=created).values_list(
                        "registration_id", "version", "pk"
                    )
                )
            else:
                ids = {(v.registration_id, v.version): v.pk for v in versions}
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
    return len(versions)
