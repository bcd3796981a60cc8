"""Run metrics and parameters, copied from an MLflow tracking server into versions.

A version registered with a run id (or a LoggedModel source, `models:/m-<id>`) in a registry
that has a tracking server gets the run's metrics, parameters and lineage tags by a background
task queued after commit. The tracking server being down never fails the registration: the
version stays "metrics pending" and the task tries again later (and so does every sync).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from models_app import audit
from models_app.exceptions import BackendError, NotFound
from models_app.models import DEFAULT_REGISTRY, ModelVersion, Registry, RunDataState
from models_app.services.lineage import lineage_from_tags
from models_app.validation import LINEAGE_MAX_LENGTH


def tracking_uri_for(registry: Registry) -> str:
    """The tracking server holding the runs of this registry's versions, or ""."""
    uri = (registry.config or {}).get("tracking_uri") or ""
    api_registry = getattr(settings, "MLFLOW_API_REGISTRY", None) or DEFAULT_REGISTRY
    if not uri and registry.name == api_registry:
        uri = getattr(settings, "MLFLOW_API_TRACKING_URI", "")
    return uri


def _wants_run_data(version: ModelVersion) -> bool:
    from models_app.flavors.mlflow import LOGGED_MODEL

    return bool(version.experiment_run_id or LOGGED_MODEL.match(version.model_source_uri))


def run_data_request(*, registry: Registry, versions: Iterable[ModelVersion]) -> list[int]:
    """Mark the versions that have a run "metrics pending" and queue the fetch after commit.

    Call inside the transaction that wrote the versions; nothing is queued if it rolls back.
    """
    if not tracking_uri_for(registry):
        return []
    ids = [v.pk for v in versions if _wants_run_data(v)]
    if ids:
        ModelVersion.objects.filter(pk__in=ids).update(
            run_data_state=RunDataState.PENDING, run_data_error=""
        )
        for version in versions:
            if version.pk in ids:
                version.run_data_state = RunDataState.PENDING
        transaction.on_commit(lambda: _enqueue(ids, attempt=1))
    return ids


def _enqueue(ids: list[int], attempt: int, delay: timedelta | None = None) -> None:
    from django.tasks import task_backends

    from models_app.tasks import fetch_run_data_task

    task = fetch_run_data_task
    if delay is not None:
        if not task_backends[task.backend].supports_defer:
            return  # an immediate backend cannot wait; the next sync or request retries
        task = task.using(run_after=timezone.now() + delay)
    task.enqueue(ids, attempt)


def run_data_fetch(*, version_ids: list[int], attempt: int = 1) -> dict[str, int]:
    """Fetch run data for each pending version; re-queue with a growing delay what could not
    be fetched because the tracking server failed. Returns counts by outcome."""
    counts = {"fetched": 0, "pending": 0, "missing": 0}
    retry = []
    versions = ModelVersion.objects.select_related("registration__registry").filter(
        pk__in=version_ids, run_data_state=RunDataState.PENDING
    )
    for version in versions:
        outcome = _fetch_one(version)
        counts[outcome] += 1
        if outcome == "pending":
            retry.append(version.pk)
    if retry and attempt < settings.RUN_DATA_MAX_ATTEMPTS:
        _enqueue(retry, attempt + 1, delay=timedelta(minutes=min(2 ** (attempt - 1), 60)))
    return counts


def _fetch_one(version: ModelVersion) -> str:
    from models_app.flavors.mlflow import fetch_run_data

    uri = tracking_uri_for(version.registration.registry)
    try:
        data = fetch_run_data(
            uri, run_id=version.experiment_run_id, source=version.model_source_uri
        )
    except NotFound as exc:
        _mark(version.pk, RunDataState.MISSING, str(exc))
        return "missing"
    except BackendError as exc:
        _mark(version.pk, RunDataState.PENDING, str(exc))
        return "pending"
    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update()
            .select_related("registration__registry")
            .get(pk=version.pk)
        )
        before = audit.snapshot(version, _COPIED)
        # What the client sent explicitly wins over what the run logged.
        version.metrics = {**data.metrics, **version.metrics}
        version.parameters = {**data.parameters, **version.parameters}
        lineage = {"experiment_run_id": data.run_id, **lineage_from_tags(data.tags)}
        for field, value in lineage.items():
            if value and not getattr(version, field):
                setattr(version, field, value[:LINEAGE_MAX_LENGTH])
        if data.storage_location and not version.storage_location:
            version.storage_location = data.storage_location[:1000]
        version.run_data_state, version.run_data_error = RunDataState.FETCHED, ""
        # Not `updated_at`: copying what the run logged is not a change to the version.
        version.save(
            update_fields=[
                "metrics",
                "parameters",
                *ModelVersion.LINEAGE_FIELDS,
                "storage_location",
                "run_data_state",
                "run_data_error",
            ]
        )
        changes = audit.diff(before, audit.snapshot(version, _COPIED))
        if changes:
            audit.record(
                action=audit.UPDATE,
                user=None,
                obj=version,
                changes=changes,
                comment="Metrics and parameters copied from the run.",
            )
    return "fetched"


# The fields a fetch of run data may fill, reported in the audit log.
_COPIED = ("metrics", "parameters", *ModelVersion.LINEAGE_FIELDS, "storage_location")


def _mark(pk: int, state: str, error: str) -> None:
    ModelVersion.objects.filter(pk=pk).update(run_data_state=state, run_data_error=error[:2000])


def run_data_retry(*, registry: Registry) -> list[int]:
    """Queue another try for every version of the registry still "metrics pending"."""
    ids = list(
        ModelVersion.objects.filter(
            registration__registry=registry, run_data_state=RunDataState.PENDING
        ).values_list("pk", flat=True)
    )
    if ids and tracking_uri_for(registry):
        transaction.on_commit(lambda: _enqueue(ids, attempt=1))
    return ids
