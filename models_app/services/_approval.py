"""The approval workflow's rules that every stage change applies: who must ask instead of
move, the metric gate, and saving a request (one pending per version)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from models_app import access, audit
from models_app.access import Role
from models_app.exceptions import Conflict, GateFailed
from models_app.metrics import ConditionError, format_gate, gate_failures, parse_gate
from models_app.models import (
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    WebhookEvent,
)
from models_app.services import webhooks
from models_app.services._common import SYSTEM_ACTOR, _actor_name, _real_user

State = PromotionRequest.State


def asks_approval(user, registration: ModelRegistration, stage: str) -> bool:
    """A contributor (not an approver) moving a version into Production of a registration
    whose approval is on may only ask. Approvers, owners and administrators move directly."""
    if stage != ModelVersionStage.PRODUCTION or not registration.approval_required:
        return False
    role = access.role_of(user, registration)
    return Role.CONTRIBUTOR <= role < Role.APPROVER


def clean_gate(text) -> str:
    """A promotion gate as given by an owner, normalised (`accuracy >= 0.9, loss < 0.2`);
    empty for none. Parsed by the same metric-condition parser as the metric filter."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ValidationError({"promotion_gate": "Give metric conditions as text."})
    try:
        return format_gate(parse_gate(text.strip()))
    except ConditionError as exc:
        raise ValidationError({"promotion_gate": str(exc)})


def require_metric_gate(registration: ModelRegistration, version: ModelVersion) -> None:
    """Refuse a version whose metrics fail the registration's promotion gate, saying why."""
    if not registration.promotion_gate:
        return
    reasons = gate_failures(registration.promotion_gate, version.metrics or {})
    if reasons:
        raise GateFailed(
            f"Version {version.version} fails the promotion gate of '{registration.name}' "
            f"({registration.promotion_gate}): {'; '.join(reasons)}."
        )


def request_promotion(
    registration: ModelRegistration,
    version: ModelVersion,
    *,
    stage: str,
    archive_existing: bool,
    comment: str,
    user,
) -> PromotionRequest:
    """Inside a write frame: the version's pending request, saved now if there is none.

    A pending request whose version changed stage since is stale: it is cancelled (recorded)
    and a fresh one replaces it."""
    if version.stage == stage:
        raise Conflict(f"Version {version.version} is already in {stage}.")
    with transaction.atomic():
        pending = (
            PromotionRequest.objects.select_for_update(of=("self",))
            .select_related("registration", "version")
            .filter(version=version, state=State.PENDING)
            .first()
        )
        if pending is not None and pending.from_stage == version.stage:
            return pending
        if pending is not None:
            pending.state = State.CANCELLED
            pending.decided_by_name = SYSTEM_ACTOR
            pending.decision_comment = (
                f"Stale: version {version.version} moved from {pending.from_stage} to "
                f"{version.stage} since; replaced by a new request."
            )
            pending.decided_at = timezone.now()
            pending.save()
            record_request(
                pending,
                None,
                {"state": {"before": State.PENDING, "after": State.CANCELLED}},
                comment=pending.decision_comment,
            )
        created = PromotionRequest.objects.create(
            registration=registration,
            version=version,
            version_number=version.version,
            from_stage=version.stage,
            to_stage=stage,
            archive_existing=archive_existing,
            comment=comment,
            requested_by=_real_user(user),
            requested_by_name=_actor_name(user),
        )
        record_request(
            created,
            user,
            audit.created(
                {"state": created.state, "from_stage": created.from_stage, "to_stage": stage}
            ),
            comment=comment,
            action=audit.CREATE,
        )
        emit_request_event(WebhookEvent.REQUEST_CREATED, created)
        return created


def record_request(request: PromotionRequest, user, changes, *, comment="", action=None) -> None:
    """A promotion request's creation or decision in the audit log."""
    audit.record(
        action=action or audit.UPDATE,
        user=user,
        object_type="promotion_request",
        object_id=str(request.pk),
        **{
            **audit.at(request.registration, request.version_number),
            "object_repr": f"request #{request.pk}: {request.registration} "
            f"v{request.version_number} -> {request.to_stage}",
        },
        changes=changes,
        comment=comment,
    )


def emit_request_event(event: str, request: PromotionRequest) -> None:
    """A webhook event about a request, inside the transaction that changed it."""
    webhooks.emit(
        event,
        request.registration,
        {
            "request": {
                "id": request.pk,
                "state": request.state,
                "version": request.version_number,
                "from_stage": request.from_stage,
                "to_stage": request.to_stage,
                "archive_existing": request.archive_existing,
                "comment": request.comment,
                "requested_by": request.requested_by_name,
                "decided_by": request.decided_by_name or None,
                "decision_comment": request.decision_comment,
            }
        },
    )
