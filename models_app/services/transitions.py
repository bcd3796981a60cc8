"""Stage transitions and their history records."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import ApprovalRequested
from models_app.flavors import Capability
from models_app.models import (
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    StageTransition,
    TransitionCause,
    WebhookEvent,
)
from models_app.services import webhooks
from models_app.services._approval import asks_approval, request_promotion, require_metric_gate
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
    """A stage change checked against the current state, ready to be made.

    With `approval`, the user may only ask: making it saves a PromotionRequest (`request`)."""

    version: ModelVersion
    stage: str
    rivals: list[ModelVersion]
    archive_existing: bool
    approval: bool = False
    request: PromotionRequest | None = None


@dataclasses.dataclass(frozen=True)
class StageChange:
    """What a stage change did: moved `version`, or saved `request` for an approver."""

    version: ModelVersion
    request: PromotionRequest | None = None


def plan_transition(
    registration, version: ModelVersion, *, stage: str, archive_existing: bool, user
) -> _Move:
    """Inside a write frame: read the versions involved and check the permissions, the
    approval workflow and the metric gate."""
    version = ModelVersion.objects.get(pk=version.pk)
    rivals = []
    if archive_existing:
        rivals = list(
            registration.versions.filter(stage=stage).exclude(pk=version.pk).order_by("version")
        )
    access.require(user, registration, Role.CONTRIBUTOR, "change a version's stage")
    approval = asks_approval(user, registration, stage)
    if not approval and registration.approval_required:
        # With approval off, a contributor moves in and out of Production directly.
        _require_promote_gate(
            user,
            registration=registration,
            stages={stage, version.stage, *(rival.stage for rival in rivals)},
        )
    if stage == ModelVersionStage.PRODUCTION:
        require_metric_gate(registration, version)
    return _Move(version, stage, rivals, archive_existing, approval=approval)


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
    then: Callable[[ModelVersion], None] | None = None,
) -> ModelVersion:
    """Inside a write frame: the backend's stage change, then the local one with its history
    and `then` (in the same transaction). A move that needs approval saves its request.

    The versions archived on the way are recorded with `rival_cause` and `rival_comment`
    (by default: archived because this version was promoted)."""
    version, stage, rivals = move.version, move.stage, move.rivals
    if move.approval:
        move.request = request_promotion(
            registration,
            version,
            stage=stage,
            archive_existing=move.archive_existing,
            comment=comment,
            user=user,
        )
        return version
    flavor.transition_stage(
        name=registration.name,
        version=version.version,
        stage=stage,
        archive_existing=move.archive_existing,
    )
    with transaction.atomic():
        registration = _lock_registration(registration.pk)
        now = timezone.now()
        records, events = [], []
        if version.stage != stage:
            records.append(_record(version, stage, user=user, comment=comment, cause=cause))
            events.append(_stage_event(registration, version, stage, user=user, comment=comment))
            version.stage = stage
            version.save(update_fields=["stage", "updated_at"])
        for rival in rivals:
            why = rival_comment or f"Archived because version {version.version} moved to {stage}."
            records.append(
                _record(
                    rival,
                    ModelVersionStage.ARCHIVED,
                    user=user,
                    comment=why,
                    cause=rival_cause,
                )
            )
            events.append(
                _stage_event(
                    registration, rival, ModelVersionStage.ARCHIVED, user=user, comment=why
                )
            )
        if rivals:
            ModelVersion.objects.filter(pk__in=[r.pk for r in rivals]).update(
                stage=ModelVersionStage.ARCHIVED, updated_at=now
            )
        StageTransition.objects.bulk_create(records)
        audit.record_many(events)
        registration.save(update_fields=["updated_at"])
        _emit_stage_changes(registration, records, version, rivals, user=user, comment=comment)
        if then is not None:
            then(version)
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


def _stage_event(registration, version: ModelVersion, to_stage: str, *, user, comment: str):
    # Named from the locked registration: no query per archived rival.
    return audit.event(
        action=audit.TRANSITION,
        user=user,
        object_type="version",
        object_id=str(version.pk),
        **audit.at(registration, version.version),
        changes={"stage": {"before": version.stage, "after": to_stage}},
        comment=comment,
    )


def version_stage_change(
    *,
    version: ModelVersion,
    stage: str,
    archive_existing: bool = False,
    comment: str = "",
    user,
    cause: str = TransitionCause.DIRECT,
) -> StageChange:
    """Move a version to `stage`, recording a StageTransition for every change; or, for a
    contributor on a registration whose Production needs approval, save a PromotionRequest
    (one pending per version: asking again answers the pending one). Every surface calls this.

    With `archive_existing`, every other version of the registration in the target stage
    moves to Archived in the same transaction (only for Staging and Production, as MLflow).
    Moving into or out of Production needs the approver role (any contributor's when the
    registration's approval is off), and into it the registration's metric gate must pass.
    """
    stage, comment = clean_transition(stage, comment, archive_existing)
    flavor = version.registration.registry.get_flavor()
    flavor.require(Capability.TRANSITION_STAGE)
    # The write frame serialises promotions, so archive_existing sees every rival.
    with registration_write(version.registration) as registration:
        move = plan_transition(
            registration, version, stage=stage, archive_existing=archive_existing, user=user
        )
        moved = make_transition(flavor, registration, move, user=user, comment=comment, cause=cause)
    return StageChange(moved, move.request)


def version_transition_stage(
    *,
    version: ModelVersion,
    stage: str,
    archive_existing: bool = False,
    comment: str = "",
    user,
    cause: str = TransitionCause.DIRECT,
) -> ModelVersion:
    """version_stage_change for callers that only move: a request it saved is reported as
    ApprovalRequested (a refusal naming the request; the request stays saved)."""
    change = version_stage_change(
        version=version,
        stage=stage,
        archive_existing=archive_existing,
        comment=comment,
        user=user,
        cause=cause,
    )
    if change.request is not None:
        raise ApprovalRequested(change.request)
    return change.version
