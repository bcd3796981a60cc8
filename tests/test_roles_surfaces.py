"""Roles granted on one registration, checked through every surface: the page, the REST API,
the CLI and the MLflow-compatible API give the same answer as the service."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import services
from models_app.models import ModelVersion, PromotionRequest

# (target stage, lowest role that moves it directly)
MOVES = [("Staging", "contributor"), ("Archived", "approver"), ("Production", "approver")]
ROLES = ["viewer", "contributor", "approver", "owner"]


@pytest.fixture
def version(make_version):
    return make_version("churn")


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("mia", password="mia-pass-123")


def _grant(member, version, role):
    services.role_grant(registration=version.registration, principal="mia", role=role, user=None)
    return type(member).objects.get(pk=member.pk)


def _page(client, user, version, stage):
    client.force_login(user)
    url = reverse("version_transition", args=["default", "churn", version.version])
    client.post(url, {"stage": stage, "confirm_production": "on"})


def _rest(client, user, version, stage):
    api = APIClient()
    api.force_authenticate(user)
    api.post(
        f"/api/v1/models/default/churn/versions/{version.version}/transition/",
        {"stage": stage},
        format="json",
    )


def _cli(client, user, version, stage):
    try:
        call_command(
            "model_registry",
            "models",
            "update-version",
            "churn",
            "-v",
            str(version.version),
            "-s",
            stage,
            "--user",
            user.username,
            stdout=StringIO(),
        )
    except CommandError:
        pass


def _mlflow(client, user, version, stage):
    api = APIClient()
    api.force_authenticate(user)
    api.post(
        "/api/2.0/mlflow/model-versions/transition-stage",
        {"name": "churn", "version": str(version.version), "stage": stage},
        format="json",
    )


SURFACES = {"page": _page, "rest": _rest, "cli": _cli, "mlflow": _mlflow}


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("stage, lowest", MOVES)
def test_each_role_moves_a_version_through_each_surface(
    client, version, member, surface, role, stage, lowest
):
    user = _grant(member, version, role)
    SURFACES[surface](client, user, version, stage)
    moved = ModelVersion.objects.get(pk=version.pk).stage == stage
    assert moved is (ROLES.index(role) >= ROLES.index(lowest)), (surface, role, stage)
    # A contributor asking for Production leaves a pending request, never a move.
    requested = PromotionRequest.objects.filter(version=version, state="pending").exists()
    assert requested is (stage == "Production" and role == "contributor"), (surface, role)


def test_rest_rename_is_for_owners_only(version, member):
    api = APIClient()
    for role, expected in (("approver", 403), ("owner", 200)):
        api.force_authenticate(_grant(member, version, role))
        response = api.patch("/api/v1/models/default/churn/", {"name": "churn-2"}, format="json")
        assert response.status_code == expected, role
    assert ModelVersion.objects.get(pk=version.pk).registration.name == "churn-2"


def test_cli_refusal_is_one_line_naming_the_role(version, member):
    _grant(member, version, "contributor")
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "model_registry", "models", "update", "churn", "--new-name", "x", "--user", "mia"
        )
    assert "\n" not in str(excinfo.value) and "owner role" in str(excinfo.value)
    out = StringIO()
    call_command("model_registry", "roles", "list", "churn", "--json", stdout=out)
    assert [r["principal"] for r in json.loads(out.getvalue())] == ["mia"]
