"""Versions: register, update (with a stage change), delete.

Each write runs in the frame of services._backend: the backend first, the local index after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import ApprovalRequested, Conflict
from models_app.flavors import Capability
from models_app.flavors.base import ModelVersionInfo
from models_app.models import (
    ModelRegistration,
    ModelVersion,
    Registry,
    TransitionCause,
    WebhookEvent,
)
from models_app.services import webhooks
from models_app.services._backend import name_write, refuse_trashed_name, registration_write
from models_app.services._common import (
    UNSET,
    _actor_name,
    _lock_registration,
    _real_user,
    _refuse_case_clash,
    _require,
)
from models_app.services.lineage import copied_version, lineage_from_tags, run_in_source
from models_app.services.roles import grant_owner_to_creator
from models_app.services.run_data import run_data_request
from models_app.services.transitions import (
    clean_transition,
    make_transition,
    plan_transition,
)
from models_app.services.trash import move_version_to_trash
from models_app.validation import (
    LINEAGE_MAX_LENGTH,
    Cleaner,
    clean_metadata,
    clean_metrics,
    clean_name,
    clean_str_map,
    clean_text,
    clean_uri,
    merge_patch,
)


def _lock_or_create_registration(
    registry: Registry, name: str, user
) -> tuple[ModelRegistration, bool]:
    """The registration row, locked for this transaction; created if the name is new."""
    existing = (
        ModelRegistration.objects.select_for_update()
        .select_related("registry")
        .filter(registry=registry, name=name)
        .first()
    )
    if existing:
        return existing, False
    _refuse_case_clash(registry, name)
    try:
        with transaction.atomic():
            created = ModelRegistration.objects.create(
                registry=registry, name=name, created_by=_real_user(user)
            )
            grant_owner_to_creator(created, user)
        return _lock_registration(created.pk), True
    except IntegrityError:
        # Another transaction created it first; wait for its lock.
        return (
            ModelRegistration.objects.select_for_update()
            .select_related("registry")
            .get(registry=registry, name=name),
            False,
        )


_REGISTERED = ModelVersion.REGISTERED_FIELDS
# How each registered field is judged: a cleaner and its options.
_CLEANERS = {
    "model_source_uri": (clean_uri, {}),
    "description": (clean_text, {}),
    "tags": (clean_str_map, {}),
    "metrics": (clean_metrics, {}),
    "parameters": (clean_str_map, {}),
    "metadata": (clean_metadata, {}),
    "model_format": (clean_text, {"max_length": 100}),
    "model_library": (clean_text, {"max_length": 100}),
    **{
        field: (clean_text, {"max_length": LINEAGE_MAX_LENGTH})
        for field in ModelVersion.LINEAGE_FIELDS
    },
}


def _lineage_from_source_and_tags(fields: dict[str, Any], clean: Cleaner) -> None:
    """A `runs:/<run_id>/...` source must name the run given (and gives it when none is);
    lineage not given explicitly comes from what the client's tags say."""
    source = fields.get("model_source_uri")
    source_run = run_in_source(source) if isinstance(source, str) else ""
    given_run = fields.get("experiment_run_id")
    if source_run and given_run and given_run != source_run:
        clean.errors.setdefault("experiment_run_id", []).append(
            f"The source names run '{source_run}', not '{given_run}'."
        )
    elif source_run:
        fields["experiment_run_id"] = source_run
    tags = fields.get("tags") if isinstance(fields.get("tags"), Mapping) else {}
    for field, value in lineage_from_tags(tags).items():
        if not fields.get(field):
            fields[field] = value[:LINEAGE_MAX_LENGTH]


def clean_new_version(clean: Cleaner, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A new version's registered fields, each through its check, errors collected by `clean`.

    The one rule for what a registered version holds; version_register and the bulk import
    both use it. A key that is not a registered field is refused.
    """
    for unknown in sorted(set(fields) - set(_REGISTERED), key=str):
        clean.errors.setdefault(str(unknown), []).append("Unknown field.")
    registered = {}
    for field in _REGISTERED:
        check, options = _CLEANERS[field]
        registered[field] = clean(check, fields.get(field), field=field, **options)
    _lineage_from_source_and_tags(registered, clean)
    return registered


def version_register(
    *,
    registry: Registry,
    name: str,
    model_source_uri: str,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    metrics: Mapping[str, float] | None = None,
    parameters: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_format: str = "",
    model_library: str = "",
    pipeline_name: str = "",
    pipeline_run_id: str = "",
    step_name: str = "",
    experiment_run_id: str = "",
    code_version: str = "",
    user,
) -> ModelVersion:
    """Register a new version, creating the registration if the name is new.

    The number is the registration's next one, taken under a row lock, so concurrent
    registrations never collide and numbers of deleted versions are never handed out again.
    """
    given = {field: value for field, value in locals().items() if field in _REGISTERED}
    clean = Cleaner()
    name = clean(clean_name, name)
    fields = clean_new_version(clean, given)
    clean.done()
    # Looked up by the clean name: a NUL or the like never reaches the database.
    existing = ModelRegistration.objects.filter(registry=registry, name=name).first()
    if existing is not None:
        access.require(user, existing, Role.CONTRIBUTOR, "register a version")
    else:
        _require(user, "add_modelversion")
    flavor = registry.get_flavor()
    flavor.require(Capability.REGISTER_VERSION)
    with name_write(registry, name):
        if not ModelRegistration.objects.filter(registry=registry, name=name).exists():
            with transaction.atomic():  # it locks the registry row: a short transaction
                _refuse_case_clash(registry, name)
            refuse_trashed_name(registry, name)
            flavor.require(Capability.REGISTER_MODEL)
            flavor.register_model(name=name)
        assigned = flavor.register_model_version(
            info=ModelVersionInfo(registered_model_name=name, **fields)
        )
        fields["storage_location"] = _storage_location(registry, fields["model_source_uri"])
        with transaction.atomic():
            registration, new = _lock_or_create_registration(registry, name, user)
            if new:
                audit.record(
                    action=audit.CREATE,
                    user=user,
                    obj=registration,
                    changes=audit.created({"name": name}),
                    comment="Created by registering its first version.",
                )
            number = assigned.version or registration.last_version_number + 1
            if ModelVersion.objects.filter(registration=registration, version=number).exists():
                raise Conflict(f"Model '{name}' already has a version {number}.")
            registration.last_version_number = max(registration.last_version_number, number)
            registration.save(update_fields=["last_version_number", "updated_at"])
            version = ModelVersion.objects.create(
                registration=registration, version=number, created_by=_real_user(user), **fields
            )
            audit.record(
                action=audit.CREATE,
                user=user,
                object_type="version",
                object_id=str(version.pk),
                **audit.at(registration, number),
                changes=audit.created(
                    {field: value for field, value in fields.items() if value not in ("", {})}
                ),
            )
            run_data_request(registry=registry, versions=[version])
            webhooks.emit(
                WebhookEvent.VERSION_REGISTERED,
                registration,
                {**webhooks.version_summary(version), "actor": _actor_name(user)},
            )
            return version


def _storage_location(registry: Registry, source: str) -> str:
    """A copy (`models:/<name>/<version>` of this registry) keeps where the artifacts are."""
    copied = copied_version(source)
    if copied is None:
        return ""
    origin = (
        ModelVersion.objects.filter(
            registration__registry=registry, registration__name=copied[0], version=copied[1]
        )
        .values_list("storage_location", "model_source_uri")
        .first()
    )
    return (origin[0] or origin[1]) if origin else ""


def _merged(version: ModelVersion, **patches) -> dict[str, dict]:
    """The version's tags, metrics and metadata with the patches applied, within the limits."""
    clean = Cleaner()
    merged = {
        field: clean(merge_patch, getattr(version, field), patch or {}, field=field)
        for field, patch in patches.items()
    }
    clean.done()
    return merged


def version_update(
    *,
    version: ModelVersion,
    description: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    metrics: Mapping[str, float | None] | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_source_uri: Any = UNSET,
    parameters: Any = UNSET,
    model_format: Any = UNSET,
    model_library: Any = UNSET,
    pipeline_name: Any = UNSET,
    pipeline_run_id: Any = UNSET,
    step_name: Any = UNSET,
    experiment_run_id: Any = UNSET,
    code_version: Any = UNSET,
    stage: str | None = None,
    archive_existing: bool = False,
    comment: str = "",
    user,
) -> ModelVersion:
    """Change description; merge tags, metrics and metadata (a None value removes a key);
    with `stage`, also move the version there (as version_transition_stage).

    The artifact URI, parameters and lineage are immutable: passing a different value is
    refused, so a caller cannot believe it changed them. Every check, the stage change's
    permissions included, runs before anything is written. Then the edits reach the backend
    and the index, then the stage change: if the backend refuses the stage change, both
    sides hold the edits and neither the new stage (a builtin registry writes all or nothing).
    A contributor's move to Production that needs approval saves the edits and a request, then
    raises ApprovalRequested naming it.
    """
    access.require(user, version.registration, Role.CONTRIBUTOR, "edit its versions")
    gated = ModelRegistration.objects.filter(pk=version.registration_id).exclude(promotion_gate="")
    if metrics and gated.exists():
        # The gate judges these numbers: whoever may rewrite them may pass it.
        access.require(
            user, version.registration, Role.APPROVER, "change metrics a promotion gate judges"
        )
    given = locals()
    clean = Cleaner()
    for field in ModelVersion.IMMUTABLE_FIELDS:
        if given[field] is not UNSET and given[field] != getattr(version, field):
            clean.errors.setdefault(field, []).append(
                f"{field.replace('_', ' ').capitalize()} cannot change once a version "
                "is registered."
            )
    if description is not None:
        description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags", allow_delete=True)
    metrics = clean(clean_metrics, metrics, allow_delete=True)
    metadata = clean(clean_metadata, metadata, allow_delete=True)
    move_to = clean(clean_transition, stage, comment, archive_existing) if stage else None
    clean.done()
    if move_to:
        stage, comment = move_to
    flavor = version.registration.registry.get_flavor()
    edits = description is not None or bool(tags or metrics or metadata) or stage is None
    if edits:
        flavor.require(Capability.UPDATE_VERSION)
    if stage is not None:
        flavor.require(Capability.TRANSITION_STAGE)
    with registration_write(version.registration) as registration:
        move = None
        if stage is not None:
            move = plan_transition(
                registration, version, stage=stage, archive_existing=archive_existing, user=user
            )
        version = ModelVersion.objects.select_related("registration__registry").get(pk=version.pk)
        if edits:
            # Merged first: a result over the limits is refused before the backend is written.
            _merged(version, tags=tags, metrics=metrics, metadata=metadata)
            flavor.update_model_version(
                name=registration.name,
                version=version.version,
                description=description,
                tags=tags or None,
                metrics=metrics or None,
                metadata=metadata or None,
            )
            with transaction.atomic():
                _lock_registration(registration.pk)
                version = ModelVersion.objects.select_related("registration__registry").get(
                    pk=version.pk
                )
                before = audit.snapshot(version, ModelVersion.MUTABLE_FIELDS)
                if description is not None:
                    version.description = description
                merged = _merged(version, tags=tags, metrics=metrics, metadata=metadata)
                version.tags, version.metrics = merged["tags"], merged["metrics"]
                version.metadata = merged["metadata"]
                version.save()
                changes = audit.diff(before, audit.snapshot(version, ModelVersion.MUTABLE_FIELDS))
                if changes:
                    audit.record(action=audit.UPDATE, user=user, obj=version, changes=changes)
        if move is not None:
            move.version = version
            version = make_transition(
                flavor, registration, move, user=user, comment=comment, cause=TransitionCause.DIRECT
            )
    if move is not None and move.request is not None:
        # The edits are saved; the stage change waits for an approver.
        raise ApprovalRequested(move.request)
    return version


def version_delete(*, version: ModelVersion, user) -> None:
    """Move one version to the trash; its stage history stays with the registration and
    records the deletion. A version in Production, or holding a protected alias, needs the
    promote permission: deleting it takes it out of deployment as surely as archiving it."""
    access.require(user, version.registration, Role.OWNER, "delete a version")
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.DELETE_VERSION)
    move_version_to_trash(version=version, user=user)
