"""Promotion requests: an approver approves (making the move) or rejects; the requester or an
approver cancels. Requests are saved by version_stage_change (services.transitions).

Two-person rule: nobody approves their own request, administrators included. A request whose
version was deleted or changed stage since it was asked is stale: approving it is refused
(it can be rejected or cancelled, and asking again replaces it)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from models_app import access
from models_app.access import Role
from models_app.exceptions import Conflict
from models_app.flavors import Capability
from models_app.models import PromotionRequest, TransitionCause, WebhookEvent
from models_app.services._approval import emit_request_event, record_request
from models_app.services._backend import registration_write
from models_app.services._common import _actor_name, _real_user
from models_app.services.transitions import make_transition, plan_transition
from models_app.validation import clean_text

State = PromotionRequest.State


def _is_requester(user, request: PromotionRequest) -> bool:
    return (
        user is not None
        and request.requested_by_id is not None
        and (request.requested_by_id == user.pk)
    )


def _pending(request: PromotionRequest) -> PromotionRequest:
    """The request re-read under a row lock; refused unless still pending."""
    current = (
        PromotionRequest.objects.select_for_update(of=("self",))
        .select_related("registration__registry", "version", "requested_by")
        .get(pk=request.pk)
    )
    if not current.is_pending:
        raise Conflict(f"Request #{current.pk} is already {current.state}.")
    return current


_EVENTS = {
    State.APPROVED: WebhookEvent.REQUEST_APPROVED,
    State.REJECTED: WebhookEvent.REQUEST_REJECTED,
}


def _decide(request: PromotionRequest, state: str, *, user, comment: str) -> None:
    before, request.state = request.state, state
    request.decided_by = _real_user(user)
    request.decided_by_name = _actor_name(user)
    request.decision_comment = comment
    request.decided_at = timezone.now()
    request.save()
    record_request(request, user, {"state": {"before": before, "after": state}}, comment=comment)
    if state in _EVENTS:
        emit_request_event(_EVENTS[state], request)


def _comment(comment, *, required: bool = False) -> str:
    comment = clean_text(comment or "", field="comment", max_length=5000)
    if required and not comment.strip():
        raise ValidationError({"comment": "Say why (a comment is required)."})
    return comment


def promotion_request_approve(
    *, request: PromotionRequest, comment: str = "", user
) -> PromotionRequest:
    """Approve: the version moves (archiving others if the request asked), and the request is
    marked approved, in one transaction. Needs the approver role; never one's own request."""
    comment = _comment(comment)
    registration = request.registration
    access.require(user, registration, Role.APPROVER, "approve promotion requests")
    if _is_requester(user, request):
        raise PermissionDenied(
            f"You cannot approve your own request #{request.pk}: another approver must."
        )
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.TRANSITION_STAGE)
    with registration_write(registration) as registration:
        with transaction.atomic():
            request = _pending(request)
        version = request.version
        if request.is_stale:
            gone = version is None or version.deleted_at is not None  # deleted, or in the trash
            where = "was deleted" if gone else f"is now in {version.stage}"
            raise Conflict(
                f"Request #{request.pk} is stale: version {request.version_number} {where} "
                f"(it was in {request.from_stage} when asked). Reject or cancel it."
            )
        move = plan_transition(
            registration,
            version,
            stage=request.to_stage,
            archive_existing=request.archive_existing,
            user=user,
        )
        why = f"Approved request #{request.pk} of {request.requested_by_name}"
        why += f": {comment}" if comment else "."
        if request.comment:
            why += f" Asked: {request.comment}"

        def approved(_version):
            # Re-read under the lock inside the move's transaction: a concurrent decision
            # made since rolls the move back.
            _decide(_pending(request), State.APPROVED, user=user, comment=comment)

        make_transition(
            flavor,
            registration,
            move,
            user=user,
            comment=why,
            cause=TransitionCause.DIRECT,
            then=approved,
        )
    request.refresh_from_db()
    return request


def promotion_request_reject(*, request: PromotionRequest, comment: str, user) -> PromotionRequest:
    """Reject with a comment saying why. Needs the approver role; not one's own request
    (cancel it instead)."""
    comment = _comment(comment, required=True)
    access.require(user, request.registration, Role.APPROVER, "reject promotion requests")
    if _is_requester(user, request):
        raise PermissionDenied(
            f"You cannot reject your own request #{request.pk}: cancel it instead."
        )
    with transaction.atomic():
        request = _pending(request)
        _decide(request, State.REJECTED, user=user, comment=comment)
    return request


def promotion_request_cancel(
    *, request: PromotionRequest, comment: str = "", user
) -> PromotionRequest:
    """Withdraw a pending request: its requester, or an approver."""
    comment = _comment(comment)
    if not _is_requester(user, request):
        access.require(
            user, request.registration, Role.APPROVER, "cancel another user's promotion request"
        )
    with transaction.atomic():
        request = _pending(request)
        _decide(request, State.CANCELLED, user=user, comment=comment)
    return request
