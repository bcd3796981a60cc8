"""Stage transitions and their history records."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from models_app import access
from models_app.access import Role
from models_app.flavors import Capability
from models_app.models import (
    ModelVersion,
    ModelVersionStage,
    StageTransition,
    TransitionCause,
    WebhookEvent,
)
from models_app.services import webhooks
from models_app.services._backend import registration_write
from models_app.services._common import (
    ACTIVE_STAGES,
    _actor_name,
    _lock_registration,
    _real_user,
    _require_promote_gate,
)
from models_app.validation import (
    clean_stage,
    clean_text,
)


def _record(
    version: ModelVersion,
    to_stage: str,
    *,
    user,
    comment: str,
    cause: str,
    actor_name: str = "",
    alias: str = "",
    alias_from_version: int | None = None,
):
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
        alias=alias,
        alias_from_version=alias_from_version,
    )


def clean_transition(stage, comment, archive_existing) -> tuple[str, str]:
    stage = clean_stage(stage)
    comment = clean_text(comment, field="comment", max_length=5000)
    if archive_existing and stage not in ACTIVE_STAGES:
        raise ValidationError(
            {
                "archive_existing": "Only a move to Staging or Production can archive "
                f"existing versions, not to {stage}."
            }
        )
    return stage, comment


@dataclasses.dataclass
class _Move:
    """A stage change checked against the current state, ready to be made."""

    version: ModelVersion
    stage: str
    rivals: list[ModelVersion]
    archive_existing: bool


def plan_transition(
    registration, version: ModelVersion, *, stage: str, archive_existing: bool, user
) -> _Move:
    """Inside a write frame: read the versions involved and check the permissions."""
    version = ModelVersion.objects.get(pk=version.pk)
    rivals = []
    if archive_existing:
        rivals = list(
            registration.versions.filter(stage=stage).exclude(pk=version.pk).order_by("version")
        )
    access.require(user, registration, Role.CONTRIBUTOR, "change a version's stage")
    _require_promote_gate(
        user,
        registration=registration,
        stages={stage, version.stage, *(rival.stage for rival in rivals)},
    )
    return _Move(version, stage, rivals, archive_existing)


def make_transition(
    flavor,
    registration,
    move: _Move,
    *,
    user,
    comment: str,
    cause: str,
    rival_cause: str = TransitionCause.ARCHIVED_BY_PROMOTION,
    rival_comment: str = "",
) -> ModelVersion:
    """Inside a write frame: the backend's stage change, then the local one with its history.

    The versions archived on the way are recorded with `rival_cause` and `rival_comment`
    (by default: archived because this version was promoted)."""
    version, stage, rivals = move.version, move.stage, move.rivals
    flavor.transition_stage(
        name=registration.name,
        version=version.version,
        stage=stage,
        archive_existing=move.archive_existing,
    )
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
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
                    comment=rival_comment
                    or f"Archived because version {version.version} moved to {stage}.",
                    cause=rival_cause,
                )
            )
        if rivals:
            ModelVersion.objects.filter(pk__in=[r.pk for r in rivals]).update(
                stage=ModelVersionStage.ARCHIVED, updated_at=now
            )
        StageTransition.objects.bulk_create(records)
        registration.save(update_fields=["updated_at"])
        _emit_stage_changes(registration, records, version, rivals, user=user, comment=comment)
    return version


def _emit_stage_changes(registration, records, version, rivals, *, user, comment: str) -> None:
    moved = {v.pk: v for v in [version, *rivals]}
    for record in records:
        changed = moved[record.version_id]
        webhooks.emit(
            WebhookEvent.STAGE_CHANGED,
            registration,
            {
                **webhooks.version_summary(changed),
                "stage": record.to_stage,
                "from_stage": record.from_stage,
                "cause": record.cause,
                "comment": record.comment,
                "actor": _actor_name(user),
            },
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
    stage, comment = clean_transition(stage, comment, archive_existing)
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.TRANSITION_STAGE)
    # The write frame serialises promotions, so archive_existing sees every rival.
    with registration_write(version.registration) as registration:
        move = plan_transition(
            registration, version, stage=stage, archive_existing=archive_existing, user=user
        )
        return make_transition(flavor, registration, move, user=user, comment=comment, cause=cause)
