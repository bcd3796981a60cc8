"""Sync: bring the local index in line with a registry's backend."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from models_app import audit
from models_app.exceptions import Conflict, describe_error
from models_app.flavors import Capability
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    Registry,
    RunDataState,
    StageTransition,
    SyncRun,
    TransitionCause,
)
from models_app.services._common import (
    _actor_name,
    _require,
)
from models_app.services.lineage import lineage_from_tags
from models_app.services.run_data import run_data_request, run_data_retry
from models_app.services.transitions import _record
from models_app.validation import (
    LINEAGE_MAX_LENGTH,
    clean_stage,
    clean_uri,
    short_reason,
)

SYNC_ACTOR = "sync"


def sync_request(*, registry: Registry, user) -> SyncRun:
    """Queue a sync of `registry` as a background task; refuse if one is already under way."""
    _require(user, "change_registry")
    registry.get_flavor().require(Capability.SYNC)
    with transaction.atomic():
        Registry.objects.select_for_update().get(pk=registry.pk)
        if registry.sync_runs.filter(
            status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).exists():
            raise Conflict(f"A sync of registry '{registry.name}' is already under way.")
        run = SyncRun.objects.create(registry=registry, requested_by=_actor_name(user))
        audit.record(action=audit.SYNC, user=user, obj=run, comment="Sync requested.")
        # Enqueued only once the run row is committed, so the worker always finds it.
        transaction.on_commit(lambda: _enqueue_sync(run.pk))
    return run


def _enqueue_sync(run_id: int) -> None:
    from models_app.tasks import sync_registry_task

    sync_registry_task.enqueue(run_id)


def registry_sync(
    *, registry: Registry, user, run: SyncRun | None = None, progress=None
) -> SyncRun:
    """Bring the local index in line with the registry's backend.

    Reads the backend a page at a time (memory stays flat however large it is), upserts each
    page in its own transaction, then removes what the backend no longer has. Running it twice
    changes nothing the second time. Stage changes found are recorded with cause `sync`.
    """
    _require(user, "change_registry")
    flavor = registry.get_flavor()
    flavor.require(Capability.SYNC)
    run = run or SyncRun.objects.create(registry=registry, requested_by=_actor_name(user))
    SyncRun.objects.filter(pk=run.pk).update(
        status=SyncRun.Status.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    run.skipped = []
    run_data_retry(registry=registry)  # versions whose run data an earlier try could not get
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
        run.status, run.error, run.finished_at = (
            SyncRun.Status.FAILED,
            short_reason(str(exc), limit=1000),
            timezone.now(),
        )
        run.save()
        _record_run(run, user)
        raise
    run.status, run.finished_at = SyncRun.Status.SUCCEEDED, timezone.now()
    if run.skipped:
        run.error = short_reason(
            f"Skipped {len(run.skipped)} version(s) whose artifact URI is not allowed, "
            f"e.g. {run.skipped[0]}",
            limit=1000,
        )
    run.save()
    _record_run(run, user)
    return run


def _record_run(run: SyncRun, user) -> None:
    """The run's outcome in the audit log; each change it made has its own event (by "sync")."""
    audit.record(
        action=audit.SYNC,
        user=user,
        obj=run,
        changes={"status": {"before": SyncRun.Status.RUNNING, "after": run.status}},
        comment=f"Sync {run.status}: {run.summary()}. {run.error}".strip(),
    )


def _event(registry: Registry, action: str, registration, version=None, **kwargs):
    """An audit event for a change a sync found in the backend, named without a query."""
    return audit.event(
        action=action,
        actor_name=SYNC_ACTOR,
        **audit.at(registration, version, kwargs.pop("alias", ""), registry=registry),
        **kwargs,
    )


def _save_progress(run: SyncRun, progress) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        models_seen=run.models_seen,
        versions_seen=run.versions_seen,
        models_created=run.models_created,
        models_updated=run.models_updated,
        versions_created=run.versions_created,
        versions_updated=run.versions_updated,
    )
    if progress:
        progress(run)


def _trashed_names(registry: Registry, names) -> set[str]:
    return set(
        ModelRegistration.all_objects.filter(
            registry=registry, name__in=list(names), deleted_at__isnull=False
        ).values_list("name", flat=True)
    )


def _sync_models(registry: Registry, page, run: SyncRun) -> None:
    now = timezone.now()
    with transaction.atomic():
        existing = {
            r.name: r
            for r in ModelRegistration.objects.filter(
                registry=registry, name__in=[i.name for i in page]
            )
        }
        # A model in the trash is still in the backend until purged: the sync leaves it be.
        trashed = _trashed_names(registry, [i.name for i in page]) - set(existing)
        page = [info for info in page if info.name not in trashed]
        created, updated, events = [], [], []
        for info in page:
            local = existing.get(info.name)
            if local is None:
                created.append(
                    ModelRegistration(
                        registry=registry,
                        name=info.name,
                        description=info.description,
                        tags=dict(info.tags),
                        created_at=info.created_at or now,
                    )
                )
            elif (local.description, local.tags) != (info.description, dict(info.tags)):
                before = audit.snapshot(local, ("description", "tags"))
                local.description, local.tags, local.updated_at = (
                    info.description,
                    dict(info.tags),
                    info.updated_at or now,
                )
                updated.append(local)
                events.append(
                    _event(
                        registry,
                        audit.UPDATE,
                        local,
                        object_type="registration",
                        object_id=str(local.pk),
                        changes=audit.diff(before, audit.snapshot(local, ("description", "tags"))),
                        comment="Changed in the backend; found by a sync.",
                    )
                )
        ModelRegistration.objects.bulk_create(created)
        for local, info in zip(created, [i for i in page if i.name not in existing]):
            local.updated_at = info.updated_at or now  # auto_now stamped the sync's time on insert
        ModelRegistration.objects.bulk_update(
            created + updated, ["description", "tags", "updated_at"]
        )
        events += [
            _event(
                registry,
                audit.CREATE,
                local,
                object_type="registration",
                object_id=str(local.pk or ""),
                changes=audit.created(audit.snapshot(local, ("name", "description", "tags"))),
                comment="Found in the backend by a sync.",
            )
            for local in created
        ]
        audit.record_many(events)
    run.models_created += len(created)
    run.models_updated += len(updated)


SYNCED_VERSION_FIELDS = (*ModelVersion.REGISTERED_FIELDS, "stage")


def _sync_versions(registry: Registry, page, run: SyncRun) -> None:
    now = timezone.now()
    with transaction.atomic():
        names = {info.registered_model_name for info in page}
        registrations = {
            r.name: r for r in ModelRegistration.objects.filter(registry=registry, name__in=names)
        }
        trashed = _trashed_names(registry, names) - set(registrations)
        page = [info for info in page if info.registered_model_name not in trashed]
        for name in names - set(registrations) - trashed:
            # a model created in the backend since the model pass
            registrations[name] = ModelRegistration.objects.create(registry=registry, name=name)
            audit.record(
                actor_name=SYNC_ACTOR,
                action=audit.CREATE,
                obj=registrations[name],
                changes=audit.created({"name": name}),
                comment="Found in the backend by a sync.",
            )
        existing = {
            (v.registration_id, v.version): v
            for v in ModelVersion.all_objects.filter(
                registration__in=registrations.values(), version__in={info.version for info in page}
            )
        }
        created, updated, transitions, created_updated_at, events = [], [], [], [], []
        first_seen: list[tuple[ModelVersion, object]] = []
        for info in page:
            try:  # the backend is one more entry point: the same artifact check applies
                clean_uri(info.model_source_uri)
            except ValidationError as exc:
                run.skipped.append(
                    f"{info.registered_model_name} v{info.version}: " + describe_error(exc).message
                )
                continue
            registration = registrations[info.registered_model_name]
            values = {field: getattr(info, field) for field in ModelVersion.REGISTERED_FIELDS}
            values.update({key: dict(v) for key, v in values.items() if isinstance(v, Mapping)})
            values["stage"] = clean_stage(info.stage)
            # ZenML's and MLflow's lineage tags fill what the backend has no field for.
            for field, value in lineage_from_tags(values["tags"]).items():
                values[field] = values[field] or value[:LINEAGE_MAX_LENGTH]
            local = existing.get((registration.pk, info.version))
            if local is not None and local.deleted_at is not None:
                continue  # in the trash: kept as it was until restored or purged
            if local is not None and local.run_data_state == RunDataState.FETCHED:
                # Copied from the run here, not held by the backend: keep them.
                values["metrics"] = {**local.metrics, **values["metrics"]}
                values["parameters"] = {**local.parameters, **values["parameters"]}
                for field in ModelVersion.LINEAGE_FIELDS:
                    values[field] = values[field] or getattr(local, field)
            if local is None:
                created.append(
                    ModelVersion(
                        registration=registration,
                        version=info.version,
                        created_at=info.created_at or now,
                        **values,
                    )
                )
                created_updated_at.append(info.updated_at or now)
                if values["stage"] != ModelVersionStage.NONE:
                    # Found already in a stage: that is history, dated by the backend.
                    first_seen.append((created[-1], info.updated_at or now))
                registration.last_version_number = max(
                    registration.last_version_number, info.version
                )
                continue
            if all(getattr(local, field) == values[field] for field in SYNCED_VERSION_FIELDS):
                continue
            if local.stage != values["stage"]:
                transitions.append(
                    _record(
                        local,
                        values["stage"],
                        user=None,
                        comment="Changed in the backend; found by a sync.",
                        cause=TransitionCause.SYNC,
                        actor_name=SYNC_ACTOR,
                    )
                )
            before = audit.snapshot(local, SYNCED_VERSION_FIELDS)
            for field, value in values.items():
                setattr(local, field, value)
            local.updated_at = info.updated_at or now
            updated.append(local)
            changes = audit.diff(before, audit.snapshot(local, SYNCED_VERSION_FIELDS))
            events.append(
                _event(
                    registry,
                    audit.TRANSITION if set(changes) == {"stage"} else audit.UPDATE,
                    registration,
                    local.version,
                    object_type="version",
                    object_id=str(local.pk),
                    changes=changes,
                    comment="Changed in the backend; found by a sync.",
                )
            )
        ModelVersion.objects.bulk_create(created, batch_size=500)
        for local, moment in zip(created, created_updated_at):
            local.updated_at = moment
        ModelVersion.objects.bulk_update(
            created + updated, [*SYNCED_VERSION_FIELDS, "updated_at"], batch_size=500
        )
        StageTransition.objects.bulk_create(transitions)
        events += [
            _event(
                registry,
                audit.CREATE,
                local.registration,
                local.version,
                object_type="version",
                object_id=str(local.pk or ""),
                changes=audit.created(audit.snapshot(local, ("stage", "model_source_uri"))),
                comment="Found in the backend by a sync.",
            )
            for local in created
        ]
        audit.record_many(events)
        _record_first_seen_stages(first_seen)
        run_data_request(registry=registry, versions=created)
        ModelRegistration.objects.bulk_update(list(registrations.values()), ["last_version_number"])
    run.versions_created += len(created)
    run.versions_updated += len(updated)


def _record_first_seen_stages(first_seen: list[tuple[ModelVersion, object]]) -> None:
    """A version first seen in Staging/Production/Archived gets its entry into that stage
    as a transition (cause sync), dated by the backend's last update of the version."""
    rows = []
    for version, moment in first_seen:
        entry = _record(
            version,
            version.stage,
            user=None,
            comment="Already in this stage when a sync first found it.",
            cause=TransitionCause.SYNC,
            actor_name=SYNC_ACTOR,
        )
        entry.from_stage = ModelVersionStage.NONE
        rows.append((entry, moment))
    StageTransition.objects.bulk_create([entry for entry, _ in rows])
    for entry, moment in rows:  # auto_now_add stamped the sync's time
        StageTransition.objects.filter(pk=entry.pk).update(created_at=moment)


def _sync_removals(
    registry: Registry, seen_models: set[str], seen_versions: set[tuple[str, int]], run
) -> None:
    """What the backend no longer has goes here too (its history goes with a removed model)."""
    gone_models = ModelRegistration.all_objects.filter(registry=registry).exclude(
        name__in=seen_models
    )
    gone_names = dict(gone_models.values_list("pk", "name"))
    run.models_removed = len(gone_names)
    audit.record_many(
        _event(
            registry,
            audit.DELETE,
            ModelRegistration(name=name),
            object_type="registration",
            object_id=str(pk),
            changes=audit.deleted({"name": name}),
            comment="No longer in the backend; removed by a sync.",
        )
        for pk, name in gone_names.items()
    )
    ModelRegistration.all_objects.filter(pk__in=list(gone_names)).delete()
    gone = [
        (pk, name, number)
        for pk, name, number in ModelVersion.all_objects.filter(registration__registry=registry)
        .values_list("pk", "registration__name", "version")
        .iterator(chunk_size=2000)
        if (name, number) not in seen_versions
    ]
    gone_versions = [pk for pk, _, _ in gone]
    run.versions_removed = len(gone_versions)
    audit.record_many(
        _event(
            registry,
            audit.DELETE,
            ModelRegistration(name=name),
            number,
            object_type="version",
            object_id=str(pk),
            changes=audit.deleted({"version": number}),
            comment="No longer in the backend; removed by a sync.",
        )
        for pk, name, number in gone
    )
    for start in range(0, len(gone_versions), 500):
        chunk = ModelVersion.all_objects.filter(pk__in=gone_versions[start : start + 500])
        # Recorded like a deletion here, so the stage ledger knows when the version ended.
        StageTransition.objects.bulk_create(
            _record(
                version,
                ModelVersionStage.NONE,
                user=None,
                comment=f"Version {version.version} removed from the backend (was "
                f"{version.stage}); found by a sync.",
                cause=TransitionCause.VERSION_DELETED,
                actor_name=SYNC_ACTOR,
            )
            for version in chunk.only("pk", "registration_id", "version", "stage")
        )
        chunk.delete()


def _sync_aliases(registry: Registry, wanted: dict[str, Mapping[str, int]]) -> None:
    versions = {
        (name, number): pk
        for pk, name, number in ModelVersion.objects.filter(
            registration__registry=registry,
            registration__name__in=[n for n, a in wanted.items() if a],
        ).values_list("pk", "registration__name", "version")
    }
    registrations = dict(
        ModelRegistration.objects.filter(registry=registry).values_list("name", "pk")
    )
    current = {
        (name, alias): version_id
        for name, alias, version_id in ModelAlias.objects.filter(
            registration__registry=registry
        ).values_list("registration__name", "name", "version_id")
    }
    desired = {
        (name, alias): versions[(name, number)]
        for name, mapping in wanted.items()
        for alias, number in mapping.items()
        if (name, number) in versions
    }
    changes = [
        (name, alias, current.get((name, alias)), desired.get((name, alias)))
        for name, alias in set(current) | set(desired)
        if current.get((name, alias)) != desired.get((name, alias))
    ]
    involved = ModelVersion.objects.in_bulk(
        {pk for _, _, old, new in changes for pk in (old, new) if pk}
    )
    records, events = [], []
    for name, alias, old, new in sorted(changes, key=lambda c: (c[0], c[1])):
        if new is None:
            ModelAlias.objects.filter(registration_id=registrations[name], name=alias).delete()
        else:
            ModelAlias.objects.update_or_create(
                registration_id=registrations[name], name=alias, defaults={"version_id": new}
            )
        # Alias moves are deployments too: recorded like the stage changes a sync finds.
        version = involved[new or old]
        records.append(
            _record(
                version,
                version.stage,
                user=None,
                comment=f"Alias '{alias}' changed in the backend; found by a sync.",
                cause=TransitionCause.ALIAS_DELETED if new is None else TransitionCause.ALIAS_SET,
                actor_name=SYNC_ACTOR,
                alias=alias,
                alias_from_version=involved[old].version if old else None,
            )
        )
        events.append(
            _event(
                registry,
                audit.ALIAS,
                ModelRegistration(name=name),
                version.version,
                alias=alias,
                object_type="alias",
                changes={
                    "version": {
                        "before": involved[old].version if old else None,
                        "after": involved[new].version if new else None,
                    }
                },
                comment=f"Alias '{alias}' changed in the backend; found by a sync.",
            )
        )
    StageTransition.objects.bulk_create(records)
    audit.record_many(events)
