"""Every write and every rule of the registry, one function per use case, each a transaction.

The UI, the REST API, the admin, the CLI and the MLflow-compatible API all call these.
`user` is the acting user: permissions are checked against it; `None` means a trusted
operator (a management command run on the server) and is recorded as "system".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_app.exceptions import Conflict, NotFound
from models_app.flavors import Capability, flavor_class
from models_app.flavors.base import ModelVersionInfo
from models_app.models import (
    DEFAULT_REGISTRY,
    ApiToken,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    Registry,
    StageTransition,
    SyncRun,
    TransitionCause,
)
from models_app.validation import (
    LINEAGE_MAX_LENGTH,
    Cleaner,
    clean_alias,
    clean_metadata,
    clean_metrics,
    clean_name,
    clean_registry_name,
    clean_stage,
    clean_str_map,
    clean_text,
    clean_uri,
    merge_patch,
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
        raise PermissionDenied(
            f"You do not have permission to do this (needs {', '.join(perms)})."
        )


def _actor_name(user) -> str:
    return user.get_username() if user is not None else SYSTEM_ACTOR


def _real_user(user):
    return user if user is not None and user.is_authenticated else None


# Registries ---------------------------------------------------------------------------
def registry_create(
    *, name: str, flavor: str = "builtin", config: Mapping | None = None, description: str = "", user
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
            return Registry.objects.create(
                name=name, flavor=flavor, config=config, description=description
            )
    except IntegrityError:
        raise Conflict(f"A registry named '{name}' already exists.")


def registry_update(
    *, registry: Registry, config: Mapping | None = None, description: str | None = None, user
) -> Registry:
    _require(user, "change_registry")
    clean = Cleaner()
    if config is not None:
        config = clean(flavor_class(registry.flavor).validate_config, config)
    if description is not None:
        description = clean(clean_text, description, field="description")
    clean.done()
    with transaction.atomic():
        registry = Registry.objects.select_for_update().get(pk=registry.pk)
        if config is not None:
            registry.config = config
        if description is not None:
            registry.description = description
        registry.save()
    return registry


def registry_delete(*, registry: Registry, user) -> None:
    _require(user, "delete_registry")
    if registry.name == DEFAULT_REGISTRY:
        raise ValidationError({"name": "The default registry cannot be deleted."})
    with transaction.atomic():
        if registry.registrations.exists():
            raise Conflict(
                f"Registry '{registry.name}' still holds models; delete them first."
            )
        registry.delete()


# Registrations ------------------------------------------------------------------------
def _lock_registration(pk: int) -> ModelRegistration:
    return ModelRegistration.objects.select_for_update().select_related("registry").get(pk=pk)


def registration_create(
    *,
    registry: Registry,
    name: str,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    user,
) -> ModelRegistration:
    _require(user, "add_modelregistration")
    clean = Cleaner()
    name = clean(clean_name, name)
    description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags")
    clean.done()
    flavor = registry.get_flavor()
    flavor.require(Capability.REGISTER_MODEL)
    with transaction.atomic():
        if ModelRegistration.objects.filter(registry=registry, name=name).exists():
            raise Conflict(f"Model '{name}' already exists in registry '{registry.name}'.")
        flavor.register_model(name=name, description=description, tags=tags)
        try:
            with transaction.atomic():
                return ModelRegistration.objects.create(
                    registry=registry,
                    name=name,
                    description=description,
                    tags=tags,
                    created_by=_real_user(user),
                )
        except IntegrityError:
            raise Conflict(f"Model '{name}' already exists in registry '{registry.name}'.")


def registration_update(
    *,
    registration: ModelRegistration,
    description: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    user,
) -> ModelRegistration:
    """Change the description; merge `tags` (a None value removes that tag)."""
    _require(user, "change_modelregistration")
    clean = Cleaner()
    if description is not None:
        description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags", allow_delete=True)
    clean.done()
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.UPDATE_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        flavor.update_model(name=registration.name, description=description, tags=tags or None)
        if description is not None:
            registration.description = description
        if tags:
            registration.tags = merge_patch(registration.tags, tags)
        registration.save()
    return registration


def registration_rename(
    *, registration: ModelRegistration, new_name: str, user
) -> ModelRegistration:
    _require(user, "change_modelregistration")
    new_name = clean_name(new_name)
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.RENAME_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        if new_name == registration.name:
            return registration
        if ModelRegistration.objects.filter(
            registry=registration.registry, name=new_name
        ).exists():
            raise Conflict(
                f"Model '{new_name}' already exists in registry '{registration.registry.name}'."
            )
        flavor.rename_model(name=registration.name, new_name=new_name)
        registration.name = new_name
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError:  # taken by a concurrent rename or create
            raise Conflict(
                f"Model '{new_name}' already exists in registry '{registration.registry.name}'."
            )
    return registration


def registration_delete(*, registration: ModelRegistration, user) -> None:
    """Delete a registration with its versions, aliases and stage history."""
    _require(user, "delete_modelregistration")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.DELETE_MODEL)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        flavor.delete_model(name=registration.name)
        registration.delete()


# Versions -----------------------------------------------------------------------------
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
    try:
        with transaction.atomic():
            created = ModelRegistration.objects.create(
                registry=registry, name=name, created_by=_real_user(user)
            )
        return _lock_registration(created.pk), True
    except IntegrityError:
        # Another transaction created it first; wait for its lock.
        return (
            ModelRegistration.objects.select_for_update()
            .select_related("registry")
            .get(registry=registry, name=name),
            False,
        )


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
    _require(user, "add_modelversion")
    clean = Cleaner()
    name = clean(clean_name, name)
    model_source_uri = clean(clean_uri, model_source_uri)
    description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags")
    metrics = clean(clean_metrics, metrics)
    parameters = clean(clean_str_map, parameters, field="parameters")
    metadata = clean(clean_metadata, metadata)
    model_format = clean(clean_text, model_format, field="model_format", max_length=100)
    model_library = clean(clean_text, model_library, field="model_library", max_length=100)
    lineage = {
        field: clean(clean_text, value, field=field, max_length=LINEAGE_MAX_LENGTH)
        for field, value in {
            "pipeline_name": pipeline_name,
            "pipeline_run_id": pipeline_run_id,
            "step_name": step_name,
            "experiment_run_id": experiment_run_id,
            "code_version": code_version,
        }.items()
    }
    clean.done()
    flavor = registry.get_flavor()
    flavor.require(Capability.REGISTER_VERSION)
    with transaction.atomic():
        registration, created = _lock_or_create_registration(registry, name, user)
        if created:
            flavor.require(Capability.REGISTER_MODEL)
            flavor.register_model(name=name)
        fields = {
            "model_source_uri": model_source_uri,
            "description": description,
            "tags": tags,
            "metrics": metrics,
            "parameters": parameters,
            "metadata": metadata,
            "model_format": model_format,
            "model_library": model_library,
            **lineage,
        }
        assigned = flavor.register_model_version(
            info=ModelVersionInfo(registered_model_name=name, **fields)
        )
        number = assigned.version or registration.last_version_number + 1
        if ModelVersion.objects.filter(registration=registration, version=number).exists():
            raise Conflict(f"Model '{name}' already has a version {number}.")
        registration.last_version_number = max(registration.last_version_number, number)
        registration.save(update_fields=["last_version_number", "updated_at"])
        return ModelVersion.objects.create(
            registration=registration, version=number, created_by=_real_user(user), **fields
        )


def version_update(
    *,
    version: ModelVersion,
    description: str | None = None,
    tags: Mapping[str, str | None] | None = None,
    metrics: Mapping[str, float | None] | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_source_uri: Any = UNSET,
    parameters: Any = UNSET,
    pipeline_name: Any = UNSET,
    pipeline_run_id: Any = UNSET,
    step_name: Any = UNSET,
    experiment_run_id: Any = UNSET,
    code_version: Any = UNSET,
    user,
) -> ModelVersion:
    """Change description; merge tags, metrics and metadata (a None value removes a key).

    The artifact URI, parameters and lineage are immutable: passing a different value is
    refused, so a caller cannot believe it changed them.
    """
    _require(user, "change_modelversion")
    immutable = {
        "model_source_uri": model_source_uri,
        "parameters": parameters,
        "pipeline_name": pipeline_name,
        "pipeline_run_id": pipeline_run_id,
        "step_name": step_name,
        "experiment_run_id": experiment_run_id,
        "code_version": code_version,
    }
    clean = Cleaner()
    for field, value in immutable.items():
        if value is not UNSET and value != getattr(version, field):
            clean.errors.setdefault(field, []).append(
                f"{field.replace('_', ' ').capitalize()} cannot change once a version is registered."
            )
    if description is not None:
        description = clean(clean_text, description, field="description")
    tags = clean(clean_str_map, tags, field="tags", allow_delete=True)
    metrics = clean(clean_metrics, metrics, allow_delete=True)
    metadata = clean(clean_metadata, metadata, allow_delete=True)
    clean.done()
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.UPDATE_VERSION)
    with transaction.atomic():
        _lock_registration(version.registration_id)
        version = ModelVersion.objects.select_related("registration__registry").get(pk=version.pk)
        flavor.update_model_version(
            name=version.registration.name,
            version=version.version,
            description=description,
            tags=tags or None,
            metrics=metrics or None,
            metadata=metadata or None,
        )
        if description is not None:
            version.description = description
        version.tags = merge_patch(version.tags, tags or {})
        version.metrics = merge_patch(version.metrics, metrics or {})
        version.metadata = merge_patch(version.metadata, metadata or {})
        version.save()
    return version


def version_delete(*, version: ModelVersion, user) -> None:
    """Delete one version; its stage history stays with the registration."""
    _require(user, "delete_modelversion")
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.DELETE_VERSION)
    with transaction.atomic():
        registration = _lock_registration(version.registration_id)
        flavor.delete_model_version(name=registration.name, version=version.version)
        ModelVersion.objects.filter(pk=version.pk).delete()
        registration.save(update_fields=["updated_at"])


def _record(version: ModelVersion, to_stage: str, *, user, comment: str, cause: str, actor_name: str = ""):
    return StageTransition(
        registration_id=version.registration_id,
        version=version,
        version_number=version.version,
        from_stage=version.stage,
        to_stage=to_stage,
        actor=_real_user(user),
        actor_name=actor_name or _actor_name(user),
        comment=comment,
        cause=cause,
    )


def version_transition_stage(
    *,
    version: ModelVersion,
    stage: str,
    archive_existing: bool = False,
    comment: str = "",
    user,
    cause: str = TransitionCause.DIRECT,
) -> ModelVersion:
    """Move a version to `stage`, recording a StageTransition for every change.

    With `archive_existing`, every other version of the registration in the target stage
    moves to Archived in the same transaction (only for Staging and Production, as MLflow).
    Moving into or out of Production needs the promote permission.
    """
    stage = clean_stage(stage)
    comment = clean_text(comment, field="comment", max_length=5000)
    if archive_existing and stage not in ACTIVE_STAGES:
        raise ValidationError(
            {"archive_existing": f"Only a move to Staging or Production can archive existing versions, not to {stage}."}
        )
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.TRANSITION_STAGE)
    with transaction.atomic():
        # The registration lock serialises promotions, so archive_existing sees every rival.
        registration = _lock_registration(version.registration_id)
        version = ModelVersion.objects.get(pk=version.pk)
        rivals = []
        if archive_existing:
            rivals = list(
                registration.versions.filter(stage=stage).exclude(pk=version.pk).order_by("version")
            )
        touches_production = ModelVersionStage.PRODUCTION in {stage, version.stage} or any(
            rival.stage == ModelVersionStage.PRODUCTION for rival in rivals
        )
        _require(user, "change_modelversion")
        if touches_production:
            _require(user, "promote_modelversion")
        flavor.transition_stage(
            name=registration.name,
            version=version.version,
            stage=stage,
            archive_existing=archive_existing,
        )
        now = timezone.now()
        records = []
        if version.stage != stage:
            records.append(_record(version, stage, user=user, comment=comment, cause=cause))
            version.stage = stage
            version.save(update_fields=["stage", "updated_at"])
        for rival in rivals:
            records.append(
                _record(
                    rival,
                    ModelVersionStage.ARCHIVED,
                    user=user,
                    comment=f"Archived because version {version.version} moved to {stage}.",
                    cause=TransitionCause.ARCHIVED_BY_PROMOTION,
                )
            )
        if rivals:
            ModelVersion.objects.filter(pk__in=[r.pk for r in rivals]).update(
                stage=ModelVersionStage.ARCHIVED, updated_at=now
            )
        StageTransition.objects.bulk_create(records)
        registration.save(update_fields=["updated_at"])
    return version


# Aliases ------------------------------------------------------------------------------
def alias_set(*, version: ModelVersion, alias: str, move: bool = True, user) -> ModelAlias:
    """Point `alias` at this version; if it points at another one, move it (or, with
    move=False, refuse with a Conflict)."""
    _require(user, "change_modelversion")
    alias = clean_alias(alias)
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with transaction.atomic():
        registration = _lock_registration(version.registration_id)
        current = registration.aliases.select_related("version").filter(name=alias).first()
        if current and not move and current.version_id != version.pk:
            raise Conflict(
                f"Alias '{alias}' already points at version {current.version.version} of "
                f"'{registration.name}'."
            )
        flavor.set_alias(name=registration.name, alias=alias, version=version.version)
        found, _ = ModelAlias.objects.update_or_create(
            registration=registration, name=alias, defaults={"version": version}
        )
        return found


def alias_delete(*, registration: ModelRegistration, alias: str, user) -> None:
    _require(user, "change_modelversion")
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.ALIASES)
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        if not registration.aliases.filter(name=alias).exists():
            raise NotFound(f"Model '{registration.name}' has no alias '{alias}'.")
        flavor.delete_alias(name=registration.name, alias=alias)
        registration.aliases.filter(name=alias).delete()


# Bulk -----------------------------------------------------------------------------------
def registrations_bulk_create(
    *, registry: Registry, registrations: list[Mapping[str, Any]], user
) -> int:
    """Insert many new registrations with their versions in one transaction, fast.

    Each item: name, description, tags, versions (a list of dicts with model_source_uri,
    stage, metrics, parameters, tags, lineage fields...). Numbers run 1..n per registration.
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
    clean.done()
    names = [item["name"] for item in registrations]
    taken = list(ModelRegistration.objects.filter(registry=registry, name__in=names).values_list("name", flat=True)[:5])
    if taken:
        raise Conflict(f"Models already exist in registry '{registry.name}': {', '.join(taken)}.")
    with transaction.atomic():
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
    return len(versions)


# API tokens -----------------------------------------------------------------------------
TOKEN_SCHEME = "mr"


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, owner, name: str = "", user) -> tuple[ApiToken, str]:
    """A new token for `owner`; returns it with the plaintext, which is never stored."""
    if user is not None and user != owner and not user.is_superuser:
        raise PermissionDenied("You can only create tokens for yourself.")
    name = clean_text(name, field="name", max_length=100)
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner, name=name, prefix=prefix, digest=_token_digest(secret)
        )
    return token, secret


def token_revoke(*, token: ApiToken, user) -> ApiToken:
    if user is not None and user != token.user and not user.is_superuser:
        raise PermissionDenied("You can only revoke your own tokens.")
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token matching `secret`, marking it used (at most once a minute)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, _token_digest(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# Sync -----------------------------------------------------------------------------------
SYNC_ACTOR = "sync"


def sync_request(*, registry: Registry, user) -> SyncRun:
    """Queue a sync of `registry` as a background task; refuse if one is already under way."""
    _require(user, "change_registry")
    registry.get_flavor().require(Capability.SYNC)
    with transaction.atomic():
        Registry.objects.select_for_update().get(pk=registry.pk)
        if registry.sync_runs.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).exists():
            raise Conflict(f"A sync of registry '{registry.name}' is already under way.")
        run = SyncRun.objects.create(registry=registry, requested_by=_actor_name(user))
        # Enqueued only once the run row is committed, so the worker always finds it.
        transaction.on_commit(lambda: _enqueue_sync(run.pk))
    return run


def _enqueue_sync(run_id: int) -> None:
    from models_app.tasks import sync_registry_task

    sync_registry_task.enqueue(run_id)


def registry_sync(*, registry: Registry, user, run: SyncRun | None = None, progress=None) -> SyncRun:
    """Bring the local index in line with the registry's backend.

    Reads the backend a page at a time (memory stays flat however large it is), upserts each
    page in its own transaction, then removes what the backend no longer has. Running it twice
    changes nothing the second time. Stage changes found are recorded with cause `sync`.
    """
    _require(user, "change_registry")
    flavor = registry.get_flavor()
    flavor.require(Capability.SYNC)
    run = run or SyncRun.objects.create(registry=registry, requested_by=_actor_name(user))
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, started_at=timezone.now())
    run.refresh_from_db()
    seen_models: set[str] = set()
    seen_versions: set[tuple[str, int]] = set()
    aliases: dict[str, Mapping[str, int]] = {}
    try:
        for page in flavor.iter_model_pages():
            _sync_models(registry, page, run)
            seen_models.update(info.name for info in page)
            aliases.update({info.name: info.aliases for info in page})
            run.models_seen += len(page)
            _save_progress(run, progress)
        for page in flavor.iter_version_pages():
            _sync_versions(registry, page, run)
            seen_versions.update((info.registered_model_name, info.version) for info in page)
            run.versions_seen += len(page)
            _save_progress(run, progress)
        with transaction.atomic():
            _sync_removals(registry, seen_models, seen_versions, run)
            _sync_aliases(registry, aliases)
            Registry.objects.filter(pk=registry.pk).update(last_synced_at=timezone.now())
    except Exception as exc:
        run.status, run.error, run.finished_at = SyncRun.Status.FAILED, str(exc)[:5000], timezone.now()
        run.save()
        raise
    run.status, run.finished_at = SyncRun.Status.SUCCEEDED, timezone.now()
    run.save()
    return run


def _save_progress(run: SyncRun, progress) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        models_seen=run.models_seen, versions_seen=run.versions_seen,
        models_created=run.models_created, models_updated=run.models_updated,
        versions_created=run.versions_created, versions_updated=run.versions_updated,
    )
    if progress:
        progress(run)


def _sync_models(registry: Registry, page, run: SyncRun) -> None:
    now = timezone.now()
    with transaction.atomic():
        existing = {
            r.name: r for r in ModelRegistration.objects.filter(registry=registry, name__in=[i.name for i in page])
        }
        created, updated = [], []
        for info in page:
            local = existing.get(info.name)
            if local is None:
                created.append(ModelRegistration(
                    registry=registry, name=info.name, description=info.description, tags=dict(info.tags),
                    created_at=info.created_at or now,
                ))
            elif (local.description, local.tags) != (info.description, dict(info.tags)):
                local.description, local.tags, local.updated_at = info.description, dict(info.tags), info.updated_at or now
                updated.append(local)
        ModelRegistration.objects.bulk_create(created)
        for local, info in zip(created, [i for i in page if i.name not in existing]):
            local.updated_at = info.updated_at or now  # auto_now stamped the sync's time on insert
        ModelRegistration.objects.bulk_update(created + updated, ["description", "tags", "updated_at"])
    run.models_created += len(created)
    run.models_updated += len(updated)


SYNCED_VERSION_FIELDS = (
    "description", "tags", "metrics", "parameters", "metadata", "stage", "model_format", "model_library",
    "pipeline_name", "pipeline_run_id", "step_name", "experiment_run_id", "code_version", "model_source_uri",
)


def _sync_versions(registry: Registry, page, run: SyncRun) -> None:
    now = timezone.now()
    with transaction.atomic():
        names = {info.registered_model_name for info in page}
        registrations = {r.name: r for r in ModelRegistration.objects.filter(registry=registry, name__in=names)}
        for name in names - set(registrations):  # a model created in the backend since the model pass
            registrations[name] = ModelRegistration.objects.create(registry=registry, name=name)
        existing = {
            (v.registration_id, v.version): v
            for v in ModelVersion.objects.filter(
                registration__in=registrations.values(), version__in={info.version for info in page}
            )
        }
        created, updated, transitions, created_updated_at = [], [], [], []
        for info in page:
            registration = registrations[info.registered_model_name]
            values = {
                "description": info.description, "tags": dict(info.tags), "metrics": dict(info.metrics),
                "parameters": dict(info.parameters), "metadata": dict(info.metadata),
                "stage": clean_stage(info.stage), "model_format": info.model_format,
                "model_library": info.model_library, "pipeline_name": info.pipeline_name,
                "pipeline_run_id": info.pipeline_run_id, "step_name": info.step_name,
                "experiment_run_id": info.experiment_run_id, "code_version": info.code_version,
                "model_source_uri": info.model_source_uri,
            }
            local = existing.get((registration.pk, info.version))
            if local is None:
                created.append(ModelVersion(
                    registration=registration, version=info.version, created_at=info.created_at or now, **values
                ))
                created_updated_at.append(info.updated_at or now)
                registration.last_version_number = max(registration.last_version_number, info.version)
                continue
            if all(getattr(local, field) == values[field] for field in SYNCED_VERSION_FIELDS):
                continue
            if local.stage != values["stage"]:
                transitions.append(_record(
                    local, values["stage"], user=None, comment="Changed in the backend; found by a sync.",
                    cause=TransitionCause.SYNC, actor_name=SYNC_ACTOR,
                ))
            for field, value in values.items():
                setattr(local, field, value)
            local.updated_at = info.updated_at or now
            updated.append(local)
        ModelVersion.objects.bulk_create(created, batch_size=500)
        for local, moment in zip(created, created_updated_at):
            local.updated_at = moment
        ModelVersion.objects.bulk_update(created + updated, [*SYNCED_VERSION_FIELDS, "updated_at"], batch_size=500)
        StageTransition.objects.bulk_create(transitions)
        ModelRegistration.objects.bulk_update(list(registrations.values()), ["last_version_number"])
    run.versions_created += len(created)
    run.versions_updated += len(updated)


def _sync_removals(registry: Registry, seen_models: set[str], seen_versions: set[tuple[str, int]], run) -> None:
    """What the backend no longer has goes here too (its history goes with a removed model)."""
    gone_models = ModelRegistration.objects.filter(registry=registry).exclude(name__in=seen_models)
    run.models_removed = gone_models.count()
    gone_models.delete()
    gone_versions = [
        pk for pk, name, number in ModelVersion.objects.filter(registration__registry=registry)
        .values_list("pk", "registration__name", "version").iterator(chunk_size=2000)
        if (name, number) not in seen_versions
    ]
    run.versions_removed = len(gone_versions)
    for start in range(0, len(gone_versions), 500):
        ModelVersion.objects.filter(pk__in=gone_versions[start:start + 500]).delete()


def _sync_aliases(registry: Registry, wanted: dict[str, Mapping[str, int]]) -> None:
    versions = {
        (name, number): pk for pk, name, number in ModelVersion.objects.filter(
            registration__registry=registry, registration__name__in=[n for n, a in wanted.items() if a]
        ).values_list("pk", "registration__name", "version")
    }
    registrations = dict(ModelRegistration.objects.filter(registry=registry).values_list("name", "pk"))
    current = {
        (name, alias): version_id for name, alias, version_id in
        ModelAlias.objects.filter(registration__registry=registry).values_list("registration__name", "name", "version_id")
    }
    desired = {
        (name, alias): versions[(name, number)]
        for name, mapping in wanted.items() for alias, number in mapping.items() if (name, number) in versions
    }
    for (name, alias) in set(current) - set(desired):
        ModelAlias.objects.filter(registration_id=registrations[name], name=alias).delete()
    for (name, alias), version_id in desired.items():
        if current.get((name, alias)) != version_id:
            ModelAlias.objects.update_or_create(
                registration_id=registrations[name], name=alias, defaults={"version_id": version_id}
            )
