"""The approval workflow through every surface: pages, REST API, CLI and the MLflow client.

Each role against asking, approving, rejecting and cancelling, allowed and refused."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelVersion, PromotionRequest
from tests.conftest import grant


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
def viewer(django_user_model):
    return django_user_model.objects.create_user("vic", password="vic-pass-123")


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn", metrics={"accuracy": 0.95})
    v2 = make_version("churn", metrics={"accuracy": 0.85})
    services.version_transition_stage(version=v2, stage="Production", user=None)
    return v1, v2


def stage(number: int) -> str:
    return ModelVersion.objects.get(registration__name="churn", version=number).stage


def asked(version, user, **kwargs):
    return services.version_stage_change(
        version=version, stage="Production", user=user, **kwargs
    ).request


def rest(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


TRANSITION = "/api/v1/models/default/churn/versions/1/transition/"


# REST API -------------------------------------------------------------------------------
def test_rest_a_contributors_promotion_answers_202_with_the_request(churn, contributor):
    response = rest(contributor).post(
        TRANSITION, {"stage": "Production", "archive_existing": True, "comment": "go"}, "json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "pending" and body["version"] == 1 and body["archive_existing"]
    assert body["requested_by"] == "carol" and body["comment"] == "go"
    assert PromotionRequest.objects.get().pk == body["id"]
    assert stage(1) == "None"


def test_rest_an_approver_moves_directly(churn, approver):
    response = rest(approver).post(TRANSITION, {"stage": "Production"}, "json")
    assert response.status_code == 200 and response.json()["stage"] == "Production"


def test_rest_approve_reject_cancel_by_role(churn, contributor, approver, viewer):
    v1, _ = churn
    request = asked(v1, contributor, archive_existing=True)
    url = f"/api/v1/requests/{request.pk}/"
    assert rest(viewer).get(url).json()["state"] == "pending"
    for user in (viewer, contributor):
        response = rest(user).post(url + "approve/", {}, "json")
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
    assert rest(contributor).post(url + "reject/", {"comment": "x"}, "json").status_code == 403
    assert rest(approver).post(url + "reject/", {}, "json").status_code == 400
    response = rest(approver).post(url + "approve/", {"comment": "ok"}, "json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved" and response.json()["decided_by"] == "dave"
    assert (stage(1), stage(2)) == ("Production", "Archived")
    again = rest(approver).post(url + "cancel/", {}, "json")
    assert again.status_code == 409 and "already approved" in again.json()["detail"]


def test_rest_the_requester_cancels_a_viewer_cannot(churn, contributor, viewer):
    v1, _ = churn
    request = asked(v1, contributor)
    url = f"/api/v1/requests/{request.pk}/cancel/"
    assert rest(viewer).post(url, {}, "json").status_code == 403
    response = rest(contributor).post(url, {}, "json")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"


def test_rest_lists_requests_by_state(churn, contributor, approver):
    v1, _ = churn
    request = asked(v1, contributor)
    body = rest(approver).get("/api/v1/requests/?state=pending").json()
    assert [r["id"] for r in body["results"]] == [request.pk]
    assert rest(approver).get("/api/v1/requests/?state=approved").json()["results"] == []
    assert rest(approver).get("/api/v1/requests/?state=bogus").status_code == 400
    assert rest(approver).get("/api/v1/requests/999999999999999/").status_code == 404


def test_rest_the_two_person_rule_holds_for_administrators(churn, admin_user):
    v1, _ = churn
    request = PromotionRequest.objects.create(
        registration=v1.registration,
        version=v1,
        version_number=1,
        from_stage="None",
        to_stage="Production",
        requested_by=admin_user,
        requested_by_name="root",
    )
    response = rest(admin_user).post(f"/api/v1/requests/{request.pk}/approve/", {}, "json")
    assert response.status_code == 403 and "your own request" in response.json()["detail"]
    assert stage(1) == "None"


def test_rest_the_owner_sets_the_gate_and_a_failing_version_is_refused_with_the_reason(
    churn, owner, approver
):
    model = "/api/v1/models/default/churn/"
    refused = rest(approver).patch(model, {"promotion_gate": "accuracy >= 0.9"}, "json")
    assert refused.status_code == 403
    bad = rest(owner).patch(model, {"promotion_gate": "accuracy >>"}, "json")
    assert bad.status_code == 400 and "promotion_gate" in bad.json()["errors"]
    response = rest(owner).patch(
        model, {"promotion_gate": "accuracy>=0.99", "approval_required": False}, "json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["promotion_gate"] == "accuracy >= 0.99"
    assert response.json()["approval_required"] is False
    response = rest(approver).post(TRANSITION, {"stage": "Production"}, "json")
    assert response.status_code == 409
    assert "accuracy 0.95 < 0.99" in response.json()["detail"]
    assert stage(1) == "None"


def test_rest_the_schema_documents_the_requests(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("", "{request_id}/approve/", "{request_id}/reject/", "{request_id}/cancel/"):
        assert f"/api/v1/requests/{path}" in schema["paths"]
    transition = schema["paths"]["/api/v1/models/{registry}/{name}/versions/{version}/transition/"]
    assert "202" in transition["post"]["responses"]


# Pages ----------------------------------------------------------------------------------
def test_page_a_contributors_promotion_says_request_sent(client, churn, contributor):
    client.force_login(contributor)
    response = client.post(
        reverse("version_transition", args=["default", "churn", 1]),
        {"stage": "Production", "confirm_production": "on"},
        follow=True,
    )
    request = PromotionRequest.objects.get()
    assert f"Request #{request.pk} sent for approval" in response.content.decode()
    assert stage(1) == "None"


def test_page_the_dashboard_shows_approvers_the_pending_requests(
    client, churn, contributor, approver, django_assert_max_num_queries
):
    v1, _ = churn
    request = asked(v1, contributor, comment="ship it")
    client.force_login(contributor)
    assert "Waiting for your approval" not in client.get("/").content.decode()
    client.force_login(approver)
    with django_assert_max_num_queries(30):
        page = client.get("/").content.decode()
    assert "Waiting for your approval (1)" in page and "ship it" in page
    assert reverse("promotion_request_approve", args=[request.pk]) in page
    assert reverse("promotion_request_reject", args=[request.pk]) in page


def test_page_approve_in_two_clicks(client, churn, contributor, approver):
    """Click "Approve…" (opens the confirmation, no request), then "Confirm approval"."""
    v1, _ = churn
    request = asked(v1, contributor, archive_existing=True)
    client.force_login(approver)
    page = client.get("/").content.decode()
    assert "Confirm approval" in page
    response = client.post(
        reverse("promotion_request_approve", args=[request.pk]), {"next": "/"}, follow=True
    )
    assert f"Approved request #{request.pk}" in response.content.decode()
    assert (stage(1), stage(2)) == ("Production", "Archived")


def test_page_refusals_show_the_reason_and_change_nothing(client, churn, contributor, approver):
    v1, _ = churn
    request = asked(v1, contributor)
    client.force_login(contributor)
    response = client.post(reverse("promotion_request_approve", args=[request.pk]), follow=True)
    assert "approver" in response.content.decode()
    client.force_login(approver)
    response = client.post(reverse("promotion_request_reject", args=[request.pk]), follow=True)
    assert "comment is required" in response.content.decode()
    request.refresh_from_db()
    assert request.state == "pending" and stage(1) == "None"
    client.post(reverse("promotion_request_reject", args=[request.pk]), {"comment": "no"})
    request.refresh_from_db()
    assert request.state == "rejected" and request.decision_comment == "no"


def test_page_the_requester_cancels_from_the_requests_page(
    client, churn, contributor, django_assert_max_num_queries
):
    v1, _ = churn
    request = asked(v1, contributor)
    client.force_login(contributor)
    with django_assert_max_num_queries(15):
        page = client.get(reverse("promotion_requests")).content.decode()
    assert reverse("promotion_request_cancel", args=[request.pk]) in page
    assert "Confirm approval" not in page  # one's own request: no approve button
    client.post(reverse("promotion_request_cancel", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == "cancelled"


def test_page_the_owner_edits_the_workflow(client, churn, owner, approver):
    v1, _ = churn
    edit = reverse("registration_edit", args=["default", "churn"])
    client.force_login(approver)
    assert (
        "Approval and promotion gate"
        not in client.get(v1.registration.get_absolute_url()).content.decode()
    )
    client.post(edit, {"workflow": "1", "promotion_gate": "accuracy >= 0.5"})
    v1.registration.refresh_from_db()
    assert v1.registration.promotion_gate == "" and v1.registration.approval_required
    client.force_login(owner)
    assert (
        "Approval and promotion gate"
        in client.get(v1.registration.get_absolute_url()).content.decode()
    )
    response = client.post(edit, {"workflow": "1", "promotion_gate": "accuracy >"}, follow=True)
    assert "is not a metric condition" in response.content.decode()
    client.post(edit, {"workflow": "1", "promotion_gate": "accuracy>=0.5"})
    v1.registration.refresh_from_db()
    assert v1.registration.promotion_gate == "accuracy >= 0.5"
    assert not v1.registration.approval_required  # an unticked box turns approval off


# CLI ------------------------------------------------------------------------------------
def cli(*args: str) -> str:
    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


def test_cli_a_contributors_update_version_prints_the_request(churn, contributor):
    body = json.loads(
        cli(
            "models",
            "update-version",
            "churn",
            "-v",
            "1",
            "-s",
            "Production",
            "--user",
            "carol",
            "--json",
        )
    )
    assert body["request"]["state"] == "pending" and body["request"]["version"] == 1
    assert body["request"]["id"] == PromotionRequest.objects.get().pk
    text = cli(
        "models", "update-version", "churn", "-v", "1", "-s", "Production", "--user", "carol"
    )
    assert f"Request #{body['request']['id']} sent for approval" in text
    assert PromotionRequest.objects.count() == 1 and stage(1) == "None"


def test_cli_requests_list_approve_reject_cancel(churn, contributor, approver, make_version):
    v1, _ = churn
    v3 = make_version("churn")
    first = asked(v1, contributor, archive_existing=True)
    second = asked(v3, contributor)
    listed = json.loads(cli("requests", "list", "--state", "pending", "--json"))
    assert {r["id"] for r in listed} == {first.pk, second.pk}
    assert f"#{first.pk}" in cli("requests", "list")
    with pytest.raises(CommandError, match="approver"):
        cli("requests", "approve", str(first.pk), "--user", "carol")
    done = json.loads(
        cli("requests", "approve", str(first.pk), "--comment", "ok", "--user", "dave", "--json")
    )
    assert done["request"]["state"] == "approved" and (stage(1), stage(2)) == (
        "Production",
        "Archived",
    )
    with pytest.raises(CommandError, match="already approved"):
        cli("requests", "cancel", str(first.pk), "--user", "dave")
    with pytest.raises(CommandError, match="not in registry"):
        cli("requests", "reject", str(second.pk), "--comment", "no", "--registry", "other")
    with pytest.raises(CommandError, match="approver"):
        cli("requests", "reject", str(second.pk), "--comment", "no", "--user", "carol")
    assert "Cancelled" in cli("requests", "cancel", str(second.pk), "--user", "carol")
    with pytest.raises(CommandError, match="does not exist"):
        cli("requests", "approve", "12345")


def test_cli_the_operator_is_not_the_requester(churn, contributor):
    """Without --user the operator acts as an administrator: it may approve others' requests."""
    v1, _ = churn
    request = asked(v1, contributor)
    cli("requests", "approve", str(request.pk))
    assert stage(1) == "Production"


def test_cli_models_update_sets_the_workflow(churn, owner, approver):
    with pytest.raises(CommandError, match="owner"):
        cli("models", "update", "churn", "--promotion-gate", "accuracy>=0.9", "--user", "dave")
    body = json.loads(
        cli(
            "models",
            "update",
            "churn",
            "--promotion-gate",
            "accuracy>=0.9",
            "--approval-required",
            "off",
            "--user",
            "olga",
            "--json",
        )
    )
    assert (body["promotion_gate"], body["approval_required"]) == ("accuracy >= 0.9", False)
    with pytest.raises(CommandError, match=r"accuracy 0\.85 < 0\.9"):
        cli("models", "update-version", "churn", "-v", "2", "-s", "Production", "--user", "dave")


# The MLflow-compatible API, through the real MLflow client ------------------------------------
@pytest.fixture
def mlflow_as(live_server, monkeypatch):
    def make(user):
        _, token = services.token_create(owner=user, user=None)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)

    return make


@pytest.mark.django_db(transaction=True)
def test_mlflow_a_contributors_promotion_is_permission_denied_naming_the_request(
    churn, contributor, mlflow_as
):
    client = mlflow_as(contributor)
    with pytest.raises(MlflowException) as caught:
        client.transition_model_version_stage("churn", "1", "Production")
    request = PromotionRequest.objects.get()
    assert caught.value.error_code == "PERMISSION_DENIED"
    assert f"Request #{request.pk} sent for approval" in caught.value.message
    assert request.state == "pending" and stage(1) == "None"
    # asking again answers the same request
    with pytest.raises(MlflowException, match=f"Request #{request.pk}"):
        client.transition_model_version_stage("churn", "1", "Production")
    assert PromotionRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_mlflow_an_approver_moves_and_a_failing_gate_is_invalid_state(
    churn, approver, mlflow_as, make_version
):
    v1, _ = churn
    make_version("churn", metrics={"accuracy": 0.5})
    client = mlflow_as(approver)
    moved = client.transition_model_version_stage("churn", "1", "Production")
    assert moved.current_stage == "Production"
    services.registration_update(
        registration=v1.registration, promotion_gate="accuracy >= 0.9", user=None
    )
    with pytest.raises(MlflowException) as caught:
        client.transition_model_version_stage("churn", "3", "Production")
    assert caught.value.error_code == "INVALID_STATE"
    assert "accuracy 0.5 < 0.9" in caught.value.message
    assert stage(3) == "None"


def test_page_the_version_shows_its_pending_request_and_the_gate(
    client, churn, contributor, django_assert_max_num_queries
):
    v1, _ = churn
    services.registration_update(
        registration=v1.registration, promotion_gate="accuracy >= 0.99", user=None
    )
    client.force_login(contributor)
    page = client.get(v1.get_absolute_url()).content.decode()
    assert "fails: accuracy 0.95 &lt; 0.99" in page
    services.registration_update(
        registration=v1.registration, promotion_gate="accuracy >= 0.9", user=None
    )
    request = asked(ModelVersion.objects.get(pk=v1.pk), contributor, comment="ship")
    with django_assert_max_num_queries(40):
        page = client.get(v1.get_absolute_url()).content.decode()
    assert f"Request #{request.pk}" in page and "waiting for an approver" in page
    assert "passes" in page


def test_admin_lists_requests_read_only(admin_client, churn, contributor):
    v1, _ = churn
    request = asked(v1, contributor)
    listing = admin_client.get(reverse("admin:models_app_promotionrequest_changelist"))
    assert listing.status_code == 200 and "carol" in listing.content.decode()
    assert admin_client.get(reverse("admin:models_app_promotionrequest_add")).status_code == 403
    admin_client.post(
        reverse("admin:models_app_promotionrequest_delete", args=[request.pk]), {"post": "yes"}
    )
    assert PromotionRequest.objects.filter(pk=request.pk, state="pending").exists()


def test_page_a_per_model_approver_sees_only_their_models_requests_in_constant_queries(
    client, make_version, contributor, django_user_model, django_assert_max_num_queries
):
    reviewer = django_user_model.objects.create_user("rita", password="rita-pass-123")
    mine, theirs = [], []
    for index in range(4):
        version = make_version(f"model-{index}")
        if index % 2 == 0:
            services.role_grant(
                registration=version.registration, principal="rita", role="approver", user=None
            )
        (mine if index % 2 == 0 else theirs).append(asked(version, contributor))
    client.force_login(reviewer)
    with django_assert_max_num_queries(30) as captured:
        page = client.get("/").content.decode()
    few = len(captured)
    for request in mine:
        assert reverse("promotion_request_approve", args=[request.pk]) in page
    for request in theirs:
        assert reverse("promotion_request_approve", args=[request.pk]) not in page
    for index in range(4, 10):  # more models and requests: the same number of queries
        version = make_version(f"model-{index}")
        services.role_grant(
            registration=version.registration, principal="rita", role="approver", user=None
        )
        asked(version, contributor)
    with django_assert_max_num_queries(few):
        page = client.get("/").content.decode()
    assert "Waiting for your approval (8)" in page
