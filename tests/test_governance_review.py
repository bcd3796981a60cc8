"""Holes found by trying the governance features as an attacker, each closed and kept closed."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelVersion, PromotionRequest


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("mia", password="mia-pass-123")


def _as(member, registration, role):
    services.role_grant(registration=registration, principal="mia", role=role, user=None)
    return type(member).objects.get(pk=member.pk)


def test_a_production_version_restored_from_the_trash_comes_back_archived(make_version):
    """Production changed hands while it was in the trash; coming back straight into it
    would skip the gate and leave two versions in Production."""
    v1, v2 = make_version(metrics={"accuracy": 0.99}), make_version(metrics={"accuracy": 0.5})
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_delete(version=v1, user=None)
    services.version_transition_stage(version=v2, stage="Production", user=None)
    services.version_restore(version=ModelVersion.all_objects.get(pk=v1.pk), user=None)
    stages = dict(v1.registration.versions.values_list("version", "stage"))
    assert stages == {1: "Archived", 2: "Production"}


def test_a_restored_version_does_not_revive_a_request_asked_before_its_deletion(
    make_version, member
):
    version = make_version()
    contributor = _as(member, version.registration, "contributor")
    change = services.version_stage_change(version=version, stage="Production", user=contributor)
    services.version_delete(version=version, user=None)
    services.version_restore(version=ModelVersion.all_objects.get(pk=version.pk), user=None)
    request = PromotionRequest.objects.get(pk=change.request.pk)
    assert request.state == "cancelled"


def test_a_contributor_cannot_rewrite_the_metrics_a_gate_judges(make_version, member):
    version = make_version(metrics={"accuracy": 0.5})
    services.registration_update(
        registration=version.registration, promotion_gate="accuracy >= 0.9", user=None
    )
    contributor = _as(member, version.registration, "contributor")
    with pytest.raises(PermissionDenied, match="approver role"):
        services.version_update(version=version, metrics={"accuracy": 0.99}, user=contributor)
    assert ModelVersion.objects.get(pk=version.pk).metrics == {"accuracy": 0.5}
    # Without a gate the numbers decide nothing, and contributors keep editing them.
    services.registration_update(registration=version.registration, promotion_gate="", user=None)
    services.version_update(version=version, metrics={"f1": 0.7}, user=contributor)


def test_a_hidden_model_answers_exactly_as_a_missing_one(settings, make_version, member, client):
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    make_version("sealed")
    api = APIClient()
    api.force_authenticate(member)
    hidden = api.get("/api/v1/models/default/sealed/")
    missing = api.get("/api/v1/models/default/nosuch/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content.decode().replace("sealed", "nosuch") == missing.content.decode()
    # The lookalike-name warning names only models the user may read.
    client.force_login(member)
    page = client.get(reverse("similar_names"), {"name": "SEALED"}).content.decode()
    assert "sealed" not in page.replace("SEALED", "")


def test_ids_of_a_hidden_models_trash_and_webhooks_answer_as_missing_ones(
    settings, make_version, member
):
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True
    version = make_version("sealed")
    hook, _ = services.webhook_create(
        registration=version.registration,
        url="http://127.0.0.1:9/hook",
        events=["version.registered"],
        user=None,
    )
    services.version_delete(version=version, user=None)
    api = APIClient()
    api.force_authenticate(member)
    for address, missing in (
        (f"/api/v1/trash/version/{version.pk}/restore/", "/api/v1/trash/version/999999/restore/"),
        (f"/api/v1/trash/version/{version.pk}/purge/", "/api/v1/trash/version/999999/purge/"),
    ):
        seen, unseen = api.post(address, {}, format="json"), api.post(missing, {}, format="json")
        assert seen.status_code == unseen.status_code == 404
        assert "sealed" not in seen.content.decode()
    seen, unseen = api.get(f"/api/v1/webhooks/{hook.pk}/"), api.get("/api/v1/webhooks/999999/")
    assert (seen.status_code, seen.json()) == (unseen.status_code, unseen.json())
    assert ModelVersion.all_objects.get(pk=version.pk).deleted_at is not None
