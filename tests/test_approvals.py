"""The approval workflow for Production and the metric gate, at the service layer.

A contributor's move to Production becomes a pending request; an approver other than the
requester approves (the move happens) or rejects; the requester or an approver cancels."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from models_app import services
from models_app.exceptions import ApprovalRequested, Conflict, GateFailed
from models_app.models import ModelVersion, PromotionRequest, StageTransition
from tests.conftest import grant
from tests.test_webhooks import DUMMY, IMMEDIATE, reset_task_backends

PENDING, APPROVED = PromotionRequest.State.PENDING, PromotionRequest.State.APPROVED


@pytest.fixture
def contributor(django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    return grant(user, "add_modelversion", "change_modelversion")


@pytest.fixture
def approver(django_user_model):
    user = django_user_model.objects.create_user("dave", password="dave-pass-123")
    return grant(user, "change_modelversion", "change_modelregistration", "promote_modelversion")


@pytest.fixture
def owner(django_user_model):
    user = django_user_model.objects.create_user("olga", password="olga-pass-123")
    return grant(
        user,
        "change_modelregistration",
        "change_modelversion",
        "delete_modelversion",
        "promote_modelversion",
    )


@pytest.fixture
def versions(make_version):
    v1 = make_version("churn", metrics={"accuracy": 0.95})
    v2 = make_version("churn", metrics={"accuracy": 0.85})
    return v1, v2


def ask(version, user, **kwargs):
    kwargs.setdefault("stage", "Production")
    return services.version_stage_change(version=version, user=user, **kwargs)


def stage_of(version) -> str:
    return ModelVersion.objects.get(pk=version.pk).stage


# Asking ---------------------------------------------------------------------------------
def test_a_contributors_promotion_becomes_a_pending_request(versions, contributor):
    v1, _ = versions
    change = ask(v1, contributor, comment="ready", archive_existing=True)
    request = change.request
    assert request.state == PENDING and request.comment == "ready" and request.archive_existing
    assert (request.version_number, request.from_stage, request.to_stage) == (
        1,
        "None",
        "Production",
    )
    assert request.requested_by == contributor and request.requested_by_name == "carol"
    assert stage_of(v1) == "None"
    assert not StageTransition.objects.filter(version=v1).exists()


def test_asking_again_answers_the_pending_request(versions, contributor):
    v1, _ = versions
    first = ask(v1, contributor).request
    again = ask(v1, contributor, comment="please").request
    assert again.pk == first.pk
    assert PromotionRequest.objects.count() == 1


def test_the_database_allows_one_pending_request_per_version(versions, contributor):
    v1, _ = versions
    request = ask(v1, contributor).request
    with pytest.raises(IntegrityError):
        PromotionRequest.objects.create(
            registration=request.registration,
            version=v1,
            version_number=1,
            from_stage="None",
            to_stage="Production",
        )


def test_version_transition_stage_reports_the_request_it_saved(versions, contributor):
    v1, _ = versions
    with pytest.raises(ApprovalRequested, match=r"Request #\d+ sent for approval") as caught:
        services.version_transition_stage(version=v1, stage="Production", user=contributor)
    assert PromotionRequest.objects.get().pk == caught.value.request.pk


def test_version_update_saves_the_edits_and_the_request(versions, contributor):
    v1, _ = versions
    with pytest.raises(ApprovalRequested):
        services.version_update(version=v1, description="new", stage="Production", user=contributor)
    v1.refresh_from_db()
    assert v1.description == "new" and v1.stage == "None"
    assert PromotionRequest.objects.filter(version=v1, state=PENDING).exists()


def test_an_approver_moves_directly(versions, approver):
    v1, _ = versions
    change = ask(v1, approver)
    assert change.request is None and stage_of(v1) == "Production"


def test_with_approval_off_a_contributor_moves_directly(versions, contributor):
    v1, _ = versions
    services.registration_update(registration=v1.registration, approval_required=False, user=None)
    v1.refresh_from_db()
    change = ask(v1, contributor)
    assert change.request is None and stage_of(v1) == "Production"
    # and out of Production too
    services.version_transition_stage(version=v1, stage="Archived", user=contributor)
    assert stage_of(v1) == "Archived"


def test_staging_needs_no_approval(versions, contributor):
    v1, _ = versions
    assert ask(v1, contributor, stage="Staging").request is None
    assert stage_of(v1) == "Staging"


def test_a_contributor_still_cannot_take_a_version_out_of_production(versions, contributor):
    v1, _ = versions
    services.version_transition_stage(version=v1, stage="Production", user=None)
    with pytest.raises(PermissionDenied):
        services.version_transition_stage(version=v1, stage="Archived", user=contributor)
    assert stage_of(v1) == "Production"


def test_a_viewer_can_neither_move_nor_ask(versions, outsider):
    v1, _ = versions
    with pytest.raises(PermissionDenied):
        ask(v1, outsider)
    assert not PromotionRequest.objects.exists()


# Approving ------------------------------------------------------------------------------
def test_approval_moves_the_version_and_records_both(versions, contributor, approver):
    v1, v2 = versions
    services.version_transition_stage(version=v2, stage="Production", user=None)
    request = ask(v1, contributor, comment="better", archive_existing=True).request
    done = services.promotion_request_approve(request=request, comment="ok", user=approver)
    assert done.state == APPROVED and done.decided_by == approver
    assert done.decision_comment == "ok" and done.decided_at is not None
    assert stage_of(v1) == "Production" and stage_of(v2) == "Archived"
    record = StageTransition.objects.get(version=v1, to_stage="Production")
    assert record.actor == approver
    assert f"Approved request #{request.pk} of carol: ok" in record.comment
    assert StageTransition.objects.filter(version=v2, cause="archived_by_promotion").exists()


def test_approval_without_archive_existing_leaves_the_live_version(versions, contributor, approver):
    v1, v2 = versions
    services.version_transition_stage(version=v2, stage="Production", user=None)
    request = ask(v1, contributor).request
    services.promotion_request_approve(request=request, user=approver)
    assert stage_of(v1) == "Production" and stage_of(v2) == "Production"


def test_nobody_approves_their_own_request_not_even_an_administrator(versions, admin_user):
    v1, _ = versions
    services.registration_update(registration=v1.registration, approval_required=True, user=None)
    request = PromotionRequest.objects.create(
        registration=v1.registration,
        version=v1,
        version_number=1,
        from_stage="None",
        to_stage="Production",
        requested_by=admin_user,
        requested_by_name="root",
    )
    with pytest.raises(PermissionDenied, match="your own request"):
        services.promotion_request_approve(request=request, user=admin_user)
    request.refresh_from_db()
    assert request.state == PENDING and stage_of(v1) == "None"


def test_a_contributor_cannot_approve(versions, contributor, django_user_model):
    v1, _ = versions
    other = grant(django_user_model.objects.create_user("zed"), "change_modelversion")
    request = ask(v1, other).request
    with pytest.raises(PermissionDenied, match="approver"):
        services.promotion_request_approve(request=request, user=contributor)
    assert stage_of(v1) == "None"


def test_a_decided_request_cannot_be_decided_again(versions, contributor, approver):
    v1, _ = versions
    request = ask(v1, contributor).request
    services.promotion_request_approve(request=request, user=approver)
    with pytest.raises(Conflict, match="already approved"):
        services.promotion_request_reject(request=request, comment="no", user=approver)


def test_a_stale_request_cannot_be_approved(versions, contributor, approver):
    v1, _ = versions
    request = ask(v1, contributor).request
    services.version_transition_stage(version=v1, stage="Staging", user=approver)
    with pytest.raises(Conflict, match="stale"):
        services.promotion_request_approve(request=request, user=approver)
    request.refresh_from_db()
    assert request.state == PENDING and stage_of(v1) == "Staging"
    # asking again replaces it, and the stale one is closed with the reason
    fresh = ask(v1, contributor).request
    request.refresh_from_db()
    assert fresh.pk != request.pk and fresh.from_stage == "Staging"
    assert request.state == "cancelled" and "Stale" in request.decision_comment


def test_a_request_of_a_deleted_version_is_stale(versions, contributor, approver, owner):
    v1, _ = versions
    request = ask(v1, contributor).request
    services.version_delete(version=v1, user=owner)
    request.refresh_from_db()
    assert request.version_id == v1.pk and request.is_stale  # the version is in the trash
    with pytest.raises(Conflict, match="was deleted"):
        services.promotion_request_approve(request=request, user=approver)


def test_a_failed_approval_leaves_the_request_pending_and_no_stage_change(
    versions, contributor, approver, monkeypatch
):
    v1, v2 = versions
    services.version_transition_stage(version=v2, stage="Production", user=None)
    request = ask(v1, contributor, archive_existing=True).request

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    # The request's state change is the last write of the transaction: failing there must
    # undo the move and the archiving made before it.
    monkeypatch.setattr("models_app.services.promotions._decide", broken)
    with pytest.raises(RuntimeError):
        services.promotion_request_approve(request=request, user=approver)
    request.refresh_from_db()
    assert request.state == PENDING
    assert stage_of(v1) == "None" and stage_of(v2) == "Production"
    assert not StageTransition.objects.filter(version=v1).exists()


# Rejecting and cancelling ---------------------------------------------------------------
def test_reject_needs_a_comment(versions, contributor, approver):
    v1, _ = versions
    request = ask(v1, contributor).request
    with pytest.raises(ValidationError, match="comment"):
        services.promotion_request_reject(request=request, comment=" ", user=approver)
    done = services.promotion_request_reject(request=request, comment="too slow", user=approver)
    assert done.state == "rejected" and done.decision_comment == "too slow"
    assert stage_of(v1) == "None"


def test_a_contributor_cannot_reject(versions, contributor):
    v1, _ = versions
    request = ask(v1, contributor).request
    with pytest.raises(PermissionDenied):
        services.promotion_request_reject(request=request, comment="no", user=contributor)


def test_the_requester_or_an_approver_cancels(versions, contributor, approver, django_user_model):
    v1, v2 = versions
    other = grant(django_user_model.objects.create_user("zed"), "change_modelversion")
    mine = ask(v1, contributor).request
    with pytest.raises(PermissionDenied):
        services.promotion_request_cancel(request=mine, user=other)
    assert services.promotion_request_cancel(request=mine, user=contributor).state == "cancelled"
    theirs = ask(v2, other).request
    done = services.promotion_request_cancel(request=theirs, comment="dup", user=approver)
    assert done.state == "cancelled" and done.decided_by == approver


# The metric gate ------------------------------------------------------------------------
def test_the_owner_sets_the_gate_and_it_is_normalised(versions, owner):
    v1, _ = versions
    registration = services.registration_update(
        registration=v1.registration, promotion_gate="accuracy>=0.9,loss < 0.2", user=owner
    )
    assert registration.promotion_gate == "accuracy >= 0.9, loss < 0.2"


def test_only_the_owner_changes_the_workflow(versions, approver):
    v1, _ = versions
    for change in ({"promotion_gate": "accuracy>=0.9"}, {"approval_required": False}):
        with pytest.raises(PermissionDenied, match="owner"):
            services.registration_update(registration=v1.registration, user=approver, **change)


@pytest.mark.parametrize("gate", ["accuracy", "accuracy >> 1", "accuracy >= high", "a<1," * 30])
def test_a_bad_gate_is_refused_with_the_reason(versions, gate):
    v1, _ = versions
    with pytest.raises(ValidationError) as caught:
        services.registration_update(registration=v1.registration, promotion_gate=gate, user=None)
    assert "promotion_gate" in caught.value.message_dict


@pytest.fixture
def gated(versions):
    v1, _ = versions
    services.registration_update(
        registration=v1.registration, promotion_gate="accuracy >= 0.9", user=None
    )
    return [ModelVersion.objects.select_related("registration").get(pk=v.pk) for v in versions]


def test_a_version_that_passes_the_gate_is_promoted(gated, approver):
    v1, _ = gated
    ask(v1, approver)
    assert stage_of(v1) == "Production"


def test_a_version_that_fails_the_gate_cannot_be_promoted_by_anyone(gated, approver):
    _, v2 = gated
    for user in (approver, None):
        with pytest.raises(GateFailed, match=r"accuracy 0\.85 < 0\.9"):
            ask(v2, user)
    assert stage_of(v2) == "None"


def test_a_version_that_fails_the_gate_cannot_be_requested(gated, contributor):
    _, v2 = gated
    with pytest.raises(GateFailed, match="accuracy 0.85 < 0.9"):
        ask(v2, contributor)
    assert not PromotionRequest.objects.exists()


def test_a_missing_metric_fails_the_gate(gated, make_version, approver):
    v3 = make_version("churn", metrics={"loss": 0.1})
    with pytest.raises(GateFailed, match="accuracy is missing"):
        ask(v3, approver)


def test_the_gate_is_checked_again_on_approval(gated, contributor, approver):
    v1, _ = gated
    request = ask(v1, contributor).request
    services.version_update(version=v1, metrics={"accuracy": 0.5}, user=None)
    with pytest.raises(GateFailed, match=r"accuracy 0\.5 < 0\.9"):
        services.promotion_request_approve(request=request, user=approver)
    request.refresh_from_db()
    assert request.state == PENDING and stage_of(v1) == "None"


def test_the_gate_does_not_apply_to_staging(gated, approver):
    _, v2 = gated
    ask(v2, approver, stage="Staging")
    assert stage_of(v2) == "Staging"


# Webhooks -------------------------------------------------------------------------------
@pytest.fixture
def queued_tasks(settings):
    """Deliveries are queued, not sent."""
    settings.TASKS = DUMMY
    reset_task_backends()
    yield
    settings.TASKS = IMMEDIATE
    reset_task_backends()


def test_requests_created_approved_and_rejected_are_webhook_events(
    versions, contributor, approver, make_version, settings, queued_tasks
):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True
    hook, _ = services.webhook_create(
        url="http://127.0.0.1:9/hook",
        events=["request.created", "request.approved", "request.rejected"],
        user=None,
    )
    v1, v2 = versions
    first = ask(v1, contributor, comment="ship", archive_existing=True).request
    ask(v1, contributor)  # asking again is the same request: no second event
    second = ask(v2, contributor).request
    services.promotion_request_approve(request=first, comment="ok", user=approver)
    services.promotion_request_reject(request=second, comment="not yet", user=approver)
    third = ask(make_version("churn", metrics={"accuracy": 1.0}), contributor).request
    services.promotion_request_cancel(request=third, user=contributor)
    sent = [(d.event, d.payload["request"]["id"]) for d in hook.deliveries.order_by("pk")]
    assert sent == [
        ("request.created", first.pk),
        ("request.created", second.pk),
        ("request.approved", first.pk),
        ("request.rejected", second.pk),
        ("request.created", third.pk),
    ]
    approved = hook.deliveries.get(event="request.approved").payload
    assert approved["model"] == "churn" and approved["request"]["decided_by"] == "dave"
    assert approved["request"]["archive_existing"] and approved["request"]["comment"] == "ship"
