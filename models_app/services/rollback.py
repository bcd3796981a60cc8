"""Rollback: Production returns to the version that was there before, in one stage change."""

from __future__ import annotations

from models_app import access, selectors
from models_app.access import Role
from models_app.exceptions import Conflict
from models_app.flavors import Capability
from models_app.models import ModelRegistration, ModelVersion, ModelVersionStage, TransitionCause
from models_app.services._backend import registration_write
from models_app.services.transitions import make_transition, plan_transition
from models_app.validation import clean_text


def registration_rollback(
    *,
    registration: ModelRegistration,
    user,
    comment: str = "",
    expected_version: int | None = None,
) -> ModelVersion:
    """Put the previous Production version back in Production and archive the versions there
    now (see selectors.rollback_plan), recorded with cause `rollback`; returns the restored
    version. A Conflict when there is nothing to roll back to, or when `expected_version` is
    given and is not the version it would restore (the caller saw an older state). Needs the
    approver role.

    One stage change with archive_existing, so the backend (MLflow too) makes it in one call:
    there is never a moment with nothing in Production, nor a half-done rollback."""
    comment = clean_text(comment, field="comment", max_length=5000).strip()
    flavor = registration.registry.get_flavor()
    flavor.require(Capability.TRANSITION_STAGE)
    with registration_write(registration) as registration:
        # Permission first, so only those allowed learn whether there is anything to undo.
        access.require(user, registration, Role.APPROVER, "roll back its Production version")
        plan = selectors.rollback_plan(registration=registration)
        if plan.refusal:
            raise Conflict(plan.refusal)
        previous, current = plan.previous, plan.current
        if expected_version is not None and previous.version != expected_version:
            # What the caller confirmed is no longer what a rollback would do.
            raise Conflict(
                f"A rollback of '{registration.name}' would now restore version "
                f"{previous.version}, not {expected_version}: the history changed meanwhile."
            )
        move = plan_transition(
            registration,
            previous,
            stage=ModelVersionStage.PRODUCTION,
            archive_existing=True,
            user=user,
        )
        why = f" {comment}" if comment else ""
        return make_transition(
            flavor,
            registration,
            move,
            user=user,
            comment=f"Rolled back from version {current.version}.{why}",
            cause=TransitionCause.ROLLBACK,
            rival_cause=TransitionCause.ROLLBACK,
            rival_comment=f"Rolled back: version {previous.version} returns to Production.{why}",
        )
