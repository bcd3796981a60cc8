"""Lookalike model names: normalised, refused, or warned about; case-insensitive registries."""

from importlib import import_module
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import selectors, services
from models_app.exceptions import Conflict
from models_app.models import ModelRegistration
from tests.test_cli import cli

INVISIBLE = ["model\u200b", "\u202emodel", "mo\u200ddel", "\ufeffmodel", "mod\u2066el", "a\u3164"]


@pytest.mark.parametrize("name", INVISIBLE)
def test_invisible_and_bidi_characters_are_refused(registry, name):
    with pytest.raises(ValidationError, match="invisible"):
        services.registration_create(registry=registry, name=name, user=None)
    assert not ModelRegistration.objects.exists()


@pytest.mark.parametrize("name", [".", "..", "...."])
def test_names_of_only_dots_are_refused(registry, name):
    with pytest.raises(ValidationError, match="dots"):
        services.version_register(
            registry=registry, name=name, model_source_uri="s3://b/m", user=None
        )


def test_names_are_normalised_so_fullwidth_is_the_same_model(registry):
    services.registration_create(registry=registry, name="model", user=None)
    with pytest.raises(Conflict):
        services.registration_create(registry=registry, name="ｍodel", user=None)
    version = services.version_register(
        registry=registry, name="ｍodel", model_source_uri="s3://b/m", user=None
    )
    assert version.registration.name == "model"
    assert ModelRegistration.objects.count() == 1


def test_case_and_lookalikes_stay_distinct_by_default_as_in_mlflow(registry):
    for name in ["model", "Model", "modеl"]:  # the last has a Cyrillic 'е'
        services.registration_create(registry=registry, name=name, user=None)
    assert ModelRegistration.objects.count() == 3
    assert selectors.similar_registration_names(registry, "MODEL") == ["Model", "model", "modеl"]
    assert selectors.similar_registration_names(registry, "other") == []


def test_a_case_insensitive_registry_refuses_a_name_differing_only_by_case(db):
    registry = services.registry_create(name="strict", case_insensitive_names=True, user=None)
    services.registration_create(registry=registry, name="Churn", user=None)
    with pytest.raises(Conflict, match="case-insensitive"):
        services.registration_create(registry=registry, name="churn", user=None)
    with pytest.raises(Conflict):
        services.version_register(
            registry=registry, name="CHURN", model_source_uri="s3://b/m", user=None
        )
    other = services.registration_create(registry=registry, name="fraud", user=None)
    with pytest.raises(Conflict):
        services.registration_rename(registration=other, new_name="chURN", user=None)
    with pytest.raises(Conflict):
        services.registrations_bulk_create(
            registry=registry, registrations=[{"name": "cHurn"}], user=None
        )
    # The same name in its own case still adds versions; a rename of its case is allowed.
    services.version_register(registry=registry, name="Churn", model_source_uri="s3://b", user=None)
    churn = ModelRegistration.objects.get(name="Churn")
    services.registration_rename(registration=churn, new_name="CHURN", user=None)
    assert sorted(ModelRegistration.objects.values_list("name", flat=True)) == ["CHURN", "fraud"]


def test_turning_case_insensitivity_on_over_clashing_names_lists_them(registry):
    services.registration_create(registry=registry, name="model", user=None)
    services.registration_create(registry=registry, name="Model", user=None)
    with pytest.raises(Conflict, match="Model, model"):
        services.registry_update(registry=registry, case_insensitive_names=True, user=None)
    registry.refresh_from_db()
    assert registry.case_insensitive_names is False


def test_rest_and_mlflow_api_refuse_invisible_names(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    response = client.post("/api/v1/models/", {"name": "\u202emodel"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    response = client.post(
        "/api/2.0/mlflow/registered-models/create", {"name": "model\u200b"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    response = client.post("/api/2.0/mlflow/registered-models/create", {"name": "."}, format="json")
    assert response.status_code == 400
    assert not ModelRegistration.objects.exists()


def test_cli_refuses_a_dots_only_name(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="dots"):
        cli("models", "register", "..")


def test_names_check_lists_clashes_and_names_todays_rules_refuse(registry):
    services.registration_create(registry=registry, name="model", user=None)
    services.registration_create(registry=registry, name="Model", user=None)
    ModelRegistration.objects.create(registry=registry, name="\u202eodd")  # from before the rule
    output = cli("names", "check")
    assert "'Model', 'model' differ only by case or lookalike characters" in output
    assert "invisible" in output


def test_the_registration_form_warns_about_a_lookalike_name(client, registry, admin_user):
    services.registration_create(registry=registry, name="churn", user=None)
    client.force_login(admin_user)
    warning = client.get(
        reverse("similar_names"), {"registry": "default", "name": "Churn"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "churn" in warning and "lookalike" in warning
    assert (
        "alert"
        not in client.get(
            reverse("similar_names"), {"registry": "default", "name": "fraud"}
        ).content.decode()
    )
    response = client.post(
        reverse("register_version"),
        {"registry": "default", "name": "CHURN", "model_source_uri": "s3://b/m"},
        follow=True,
    )
    page = response.content.decode()
    assert "Registered version 1 of CHURN" in page and "lookalike" in page
    assert ModelRegistration.objects.filter(name="CHURN").exists()


def test_the_migration_reports_clashes_instead_of_failing(registry, capsys):
    from django.apps import apps

    migration = next(
        import_module(f"models_app.migrations.{path.stem}")
        for path in sorted((Path(__file__).parent.parent / "models_app/migrations").glob("0*.py"))
        if "name_key" in path.stem
    )
    ModelRegistration.objects.create(registry=registry, name="model")
    ModelRegistration.objects.create(registry=registry, name="Model")
    ModelRegistration.objects.filter(registry=registry).update(name_key="")
    migration.fill_name_keys_and_report_clashes(apps, None)
    printed = capsys.readouterr().out
    assert "'Model', 'model' differ only by case" in printed
    assert set(ModelRegistration.objects.values_list("name_key", flat=True)) == {"model"}
