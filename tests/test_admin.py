"""The admin panel: lists render, actions call services, history is read-only."""

import pytest
from django.urls import reverse

from models_app import services
from models_app.models import ModelRegistration, ModelVersion, StageTransition

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    return client


@pytest.fixture
def versions(make_version):
    v1, v2, v3 = (make_version(metrics={"acc": 0.8 + i / 100}) for i in range(3))
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2, v3


def action(client, name, versions):
    return client.post(
        reverse("admin:models_app_modelversion_changelist"),
        {"action": name, "_selected_action": [v.pk for v in versions]},
        follow=True,
    )


@pytest.mark.parametrize(
    "url",
    [
        "admin:models_app_registry_changelist",
        "admin:models_app_modelregistration_changelist",
        "admin:models_app_modelversion_changelist",
        "admin:models_app_modelalias_changelist",
        "admin:models_app_stagetransition_changelist",
    ],
)
def test_every_list_renders(staff_client, versions, url):
    assert staff_client.get(reverse(url)).status_code == 200


def test_registration_page_shows_versions_inline(staff_client, versions):
    registration = versions[0].registration
    response = staff_client.get(
        reverse("admin:models_app_modelregistration_change", args=[registration.pk])
    )
    assert response.status_code == 200
    assert b">v3</a>" in response.content


def test_version_page_shows_transitions_inline(staff_client, versions):
    response = staff_client.get(
        reverse("admin:models_app_modelversion_change", args=[versions[0].pk])
    )
    assert response.status_code == 200
    assert b"Production" in response.content


def test_promote_action_archives_the_existing_production_version(staff_client, versions):
    v1, v2, _ = versions
    response = action(staff_client, "move_to_production", [v2])
    assert b"Moved 1 version(s) to Production" in response.content
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.stage, v2.stage) == ("Archived", "Production")
    archived = StageTransition.objects.get(version=v1, to_stage="Archived")
    assert archived.cause == "archived_by_promotion"
    assert archived.actor_name == "root"


def test_staging_and_archive_actions(staff_client, versions):
    _, v2, v3 = versions
    action(staff_client, "move_to_staging", [v2, v3])
    assert set(ModelVersion.objects.filter(stage="Staging").values_list("version", flat=True)) == {
        2,
        3,
    }
    action(staff_client, "move_to_archived", [v2])
    v2.refresh_from_db()
    assert v2.stage == "Archived"


def test_an_action_the_user_may_not_do_shows_an_error_and_changes_nothing(
    client, django_user_model, versions
):
    from tests.conftest import grant

    staff = django_user_model.objects.create_user("staff", password="x-pass-123", is_staff=True)
    staff = grant(staff, "view_modelversion", "change_modelversion")
    client.force_login(staff)
    # A contributor's move to Production is saved as a request; the admin says so.
    response = action(client, "move_to_production", [versions[1]])
    assert b"sent for approval" in response.content
    assert ModelVersion.objects.get(pk=versions[1].pk).stage == "None"


def test_transitions_cannot_be_added_changed_or_deleted(staff_client, versions):
    record = StageTransition.objects.first()
    assert staff_client.get(reverse("admin:models_app_stagetransition_add")).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:models_app_stagetransition_delete", args=[record.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    staff_client.post(
        reverse("admin:models_app_stagetransition_change", args=[record.pk]),
        {"comment": "rewritten"},
    )
    assert StageTransition.objects.get(pk=record.pk).comment == ""


def test_editing_a_version_goes_through_the_service(staff_client, versions):
    v1 = versions[0]
    url = reverse("admin:models_app_modelversion_change", args=[v1.pk])
    response = staff_client.post(
        url,
        {
            "description": "edited",
            "tags": '{"team": "risk"}',
            "metrics": '{"acc": "high"}',
            "metadata": "{}",
            "transitions-TOTAL_FORMS": "0",
            "transitions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert b"must be a number" in response.content
    assert ModelVersion.objects.get(pk=v1.pk).description == ""
    response = staff_client.post(
        url,
        {
            "description": "edited",
            "tags": '{"team": "risk"}',
            "metrics": '{"acc": 0.99}',
            "metadata": "{}",
            "transitions-TOTAL_FORMS": "0",
            "transitions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    v1.refresh_from_db()
    assert (v1.description, v1.tags, v1.metrics) == ("edited", {"team": "risk"}, {"acc": 0.99})


def test_adding_a_registration_with_a_bad_name_shows_the_error_at_the_field(staff_client, registry):
    url = reverse("admin:models_app_modelregistration_add")
    response = staff_client.post(
        url,
        {
            "registry": registry.pk,
            "name": "a/b",
            "description": "",
            "tags": "{}",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert b"must not contain" in response.content
    assert not ModelRegistration.objects.exists()
    response = staff_client.post(
        url,
        {
            "registry": registry.pk,
            "name": "churn",
            "description": "d",
            "tags": '{"a": "1"}',
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    registration = ModelRegistration.objects.get()
    assert registration.created_by.username == "root"


def test_deleting_a_registration_asks_first_then_deletes(staff_client, versions):
    registration = versions[0].registration
    url = reverse("admin:models_app_modelregistration_delete", args=[registration.pk])
    assert b"Are you sure" in staff_client.get(url).content
    staff_client.post(url, {"post": "yes"})
    assert not ModelRegistration.objects.exists()


def _deletion_logs():
    from django.contrib.admin.models import DELETION, LogEntry

    return LogEntry.objects.filter(action_flag=DELETION)


@pytest.fixture
def append_only(db):
    """A registry whose flavor cannot delete, with one version."""
    registry = services.registry_create(name="audit", flavor="no-delete", user=None)
    return services.version_register(
        registry=registry, name="m", model_source_uri="s3://x", user=None
    )


@pytest.mark.parametrize("model", ["modelregistration", "modelversion"])
def test_a_refused_delete_shows_the_refusal_and_logs_nothing(staff_client, append_only, model):
    obj = append_only.registration if model == "modelregistration" else append_only
    url = reverse(f"admin:models_app_{model}_delete", args=[obj.pk])
    page = staff_client.post(url, {"post": "yes"}, follow=True).content.decode()
    assert "cannot delete" in page
    assert "deleted successfully" not in page
    assert not _deletion_logs().exists()
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_a_refused_bulk_delete_claims_no_success(staff_client, append_only, make_version):
    deletable = make_version("fraud")
    response = staff_client.post(
        reverse("admin:models_app_modelversion_changelist"),
        {
            "action": "delete_selected",
            "post": "yes",
            "_selected_action": [append_only.pk, deletable.pk],
        },
        follow=True,
    )
    page = response.content.decode()
    assert "cannot delete" in page and "Deleted 1 model version." in page
    assert "Successfully deleted 2" not in page
    assert list(_deletion_logs().values_list("object_id", flat=True)) == [str(deletable.pk)]
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [append_only.pk]


def test_a_permitted_delete_is_logged_after_it_happens(staff_client, versions):
    url = reverse("admin:models_app_modelversion_delete", args=[versions[2].pk])
    page = staff_client.post(url, {"post": "yes"}, follow=True).content.decode()
    assert "deleted successfully" in page
    assert list(_deletion_logs().values_list("object_id", flat=True)) == [str(versions[2].pk)]


def test_adding_a_registry_refuses_an_unknown_flavor(staff_client):
    url = reverse("admin:models_app_registry_add")
    response = staff_client.post(
        url, {"name": "x", "flavor": "nope", "config": "{}", "description": ""}
    )
    assert response.status_code == 200
    assert b"Unknown flavor" in response.content


def test_admin_creates_a_token_shown_once_and_revokes_it(staff_client, django_user_model):
    from models_app.models import ApiToken

    owner = django_user_model.objects.create_user("ci-bot", password="ci-pass-123")
    response = staff_client.post(
        reverse("admin:models_app_apitoken_add"), {"user": owner.pk, "name": "ci"}, follow=True
    )
    token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret.startswith("mr_") and secret not in token.digest and secret in response.text
    assert not list(response.context["messages"])
    staff_client.post(
        reverse("admin:models_app_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
