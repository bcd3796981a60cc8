"""Registering, updating and deleting versions through the service layer."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from models_app import selectors, services
from models_app.exceptions import Conflict, NotFound
from models_app.models import ModelAlias, ModelRegistration, ModelVersion, StageTransition


def test_it_auto_creates_the_registration_for_a_new_name(registry, engineer):
    version = services.version_register(
        registry=registry, name="churn", model_source_uri="s3://b/churn/1", user=engineer
    )
    registration = ModelRegistration.objects.get(registry=registry, name="churn")
    assert version.registration == registration
    assert version.version == 1
    assert registration.created_by == engineer
    assert version.created_by == engineer


def test_it_numbers_versions_one_two_three(make_version):
    assert [make_version().version for _ in range(3)] == [1, 2, 3]


def test_it_numbers_each_registration_independently(make_version):
    make_version("a")
    make_version("a")
    assert make_version("b").version == 1


def test_it_never_reuses_the_number_of_a_deleted_version(make_version):
    make_version()
    second = make_version()
    services.version_delete(version=second, user=None)
    assert make_version().version == 3


def test_it_keeps_metrics_parameters_metadata_and_lineage(make_version):
    version = make_version(
        metrics={"accuracy": 0.93, "loss": 1},
        parameters={"learning_rate": 0.01, "depth": 6, "optimizer": "adam"},
        metadata={"rows": 1000, "features": ["a", "b"]},
        tags={"team": "growth"},
        model_format="mlflow",
        model_library="sklearn",
        pipeline_name="train_churn",
        pipeline_run_id="run-7",
        step_name="train",
        experiment_run_id="abc123",
        code_version="9f1c2e",
    )
    version.refresh_from_db()
    assert version.metrics == {"accuracy": 0.93, "loss": 1.0}
    # Parameters are the training configuration, kept as text like MLflow params.
    assert version.parameters == {"learning_rate": "0.01", "depth": "6", "optimizer": "adam"}
    assert version.metadata == {"rows": 1000, "features": ["a", "b"]}
    assert version.lineage == {
        "pipeline_name": "train_churn",
        "pipeline_run_id": "run-7",
        "step_name": "train",
        "experiment_run_id": "abc123",
        "code_version": "9f1c2e",
    }


def test_it_updates_description_and_merges_tags_metrics_metadata(make_version):
    version = make_version(tags={"a": "1", "b": "2"}, metrics={"acc": 0.8}, metadata={"x": 1})
    services.version_update(
        version=version,
        description="better",
        tags={"b": None, "c": "3"},
        metrics={"acc": 0.85, "f1": 0.7},
        metadata={"x": None, "y": "z"},
        user=None,
    )
    version.refresh_from_db()
    assert version.description == "better"
    assert version.tags == {"a": "1", "c": "3"}
    assert version.metrics == {"acc": 0.85, "f1": 0.7}
    assert version.metadata == {"y": "z"}


@pytest.mark.parametrize(
    "field,value",
    [
        ("model_source_uri", "s3://elsewhere/model"),
        ("parameters", {"learning_rate": "0.5"}),
        ("pipeline_name", "other"),
        ("pipeline_run_id", "run-9"),
        ("step_name", "evaluate"),
        ("experiment_run_id", "zzz"),
        ("code_version", "deadbeef"),
    ],
)
def test_it_refuses_to_change_the_artifact_uri_parameters_or_lineage(make_version, field, value):
    version = make_version(parameters={"learning_rate": "0.01"}, pipeline_name="train")
    before = ModelVersion.objects.filter(pk=version.pk).values().get()
    with pytest.raises(ValidationError) as excinfo:
        services.version_update(version=version, description="changed", user=None, **{field: value})
    assert field in excinfo.value.message_dict
    assert "cannot change" in excinfo.value.message_dict[field][0]
    assert ModelVersion.objects.filter(pk=version.pk).values().get() == before


def test_it_accepts_an_unchanged_immutable_value(make_version):
    version = make_version(model_source_uri="s3://same")
    services.version_update(
        version=version, model_source_uri="s3://same", description="d", user=None
    )
    version.refresh_from_db()
    assert version.description == "d"


def test_deleting_a_version_keeps_its_stage_history(make_version):
    version = make_version()
    services.version_transition_stage(version=version, stage="Staging", user=None)
    services.version_delete(version=version, user=None)
    history = StageTransition.objects.get(cause="direct")
    assert history.version_number == 1
    assert history.to_stage == "Staging"
    deletion = StageTransition.objects.get(cause="version_deleted")
    assert (deletion.version_number, deletion.from_stage, deletion.to_stage) == (
        1,
        "Staging",
        "None",
    )
    services.version_purge(version=version, user=None)  # for good: the history still stays
    history.refresh_from_db()
    assert history.version is None and history.version_number == 1
    assert StageTransition.objects.filter(cause="version_purged", version_number=1).exists()


def test_deleting_a_registration_removes_versions_aliases_and_history(make_version):
    version = make_version()
    services.version_transition_stage(version=version, stage="Production", user=None)
    services.alias_set(version=version, alias="champion", user=None)
    services.registration_delete(registration=version.registration, user=None)
    assert not ModelRegistration.objects.exists()
    assert not ModelVersion.objects.exists()
    assert not StageTransition.objects.exists()
    assert not ModelAlias.objects.exists()
    services.registration_purge(registration=version.registration, user=None)
    assert not ModelRegistration.all_objects.exists()
    assert not ModelVersion.all_objects.exists()
    assert not StageTransition.all_objects.exists()
    assert not ModelAlias.all_objects.exists()


def test_a_metric_that_is_not_a_number_writes_nothing(registry):
    with pytest.raises(ValidationError) as excinfo:
        services.version_register(
            registry=registry,
            name="new",
            model_source_uri="s3://x",
            metrics={"acc": "high"},
            user=None,
        )
    assert "metrics" in excinfo.value.message_dict
    assert not ModelRegistration.objects.exists()


def test_it_reports_every_bad_field_at_once(registry):
    with pytest.raises(ValidationError) as excinfo:
        services.version_register(
            registry=registry, name="", model_source_uri="", metrics={"a": "b"}, user=None
        )
    assert set(excinfo.value.message_dict) == {"name", "model_source_uri", "metrics"}


def test_registering_needs_the_add_permission(registry, outsider):
    with pytest.raises(PermissionDenied):
        services.version_register(
            registry=registry, name="m", model_source_uri="s3://x", user=outsider
        )
    assert not ModelRegistration.objects.exists()


def test_updating_needs_the_change_permission(make_version, outsider):
    with pytest.raises(PermissionDenied):
        services.version_update(version=make_version(), description="x", user=outsider)


def test_deleting_needs_the_delete_permission(make_version, engineer):
    version = make_version()
    with pytest.raises(PermissionDenied):
        services.version_delete(version=version, user=engineer)
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_latest_version_overall_and_by_stage(make_version):
    first, second, _third = make_version(), make_version(), make_version()
    services.version_transition_stage(version=first, stage="Production", user=None)
    services.version_transition_stage(version=second, stage="Production", user=None)
    registration = first.registration
    assert selectors.version_latest(registration=registration).version == 3
    # Several versions may share a stage; "latest" is the highest number in it (MLflow).
    assert selectors.version_latest(registration=registration, stage="production").version == 2
    with pytest.raises(NotFound):
        selectors.version_latest(registration=registration, stage="Staging")
    # Promoting without archive_existing leaves the first in Production and the third alone.
    assert list(registration.versions.order_by("version").values_list("stage", flat=True)) == [
        "Production",
        "Production",
        "None",
    ]


def test_version_register_refuses_a_number_the_backend_reuses(registry, make_version):
    """A backend that hands out a number already held locally is a conflict, not a crash."""
    make_version()
    registration = ModelRegistration.objects.get()
    registration.last_version_number = 0
    registration.save()
    with pytest.raises(Conflict):
        make_version()
    assert ModelVersion.objects.count() == 1
