"""Stage transitions: archive_existing, the history they record, who may make them."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from models_app import services
from models_app.exceptions import ApprovalRequested
from models_app.models import ModelVersion, PromotionRequest, StageTransition


def stages(registration):
    return dict(registration.versions.values_list("version", "stage"))


def test_it_moves_a_version_and_records_who_when_and_why(make_version, reviewer):
    version = make_version()
    services.version_transition_stage(
        version=version, stage="Production", comment="Beat the baseline.", user=reviewer
    )
    version.refresh_from_db()
    assert version.stage == "Production"
    record = StageTransition.objects.get()
    assert (record.from_stage, record.to_stage) == ("None", "Production")
    assert record.actor == reviewer
    assert record.actor_name == "bob"
    assert record.comment == "Beat the baseline."
    assert record.cause == "direct"
    assert record.version_number == 1
    assert record.created_at is not None


def test_archive_existing_archives_every_other_version_in_the_target_stage(make_version):
    v1, v2, v3, v4 = (make_version() for _ in range(4))
    for version in (v1, v2):
        services.version_transition_stage(version=version, stage="Production", user=None)
    services.version_transition_stage(version=v3, stage="Staging", user=None)
    services.version_transition_stage(
        version=v4, stage="Production", archive_existing=True, user=None
    )
    assert stages(v1.registration) == {1: "Archived", 2: "Archived", 3: "Staging", 4: "Production"}


def test_each_automatic_archive_is_recorded_with_its_cause(make_version):
    v1, v2, v3 = (make_version() for _ in range(3))
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_transition_stage(version=v2, stage="Production", user=None)
    StageTransition.objects.all().delete()
    services.version_transition_stage(
        version=v3, stage="Production", archive_existing=True, comment="v3 wins", user=None
    )
    records = {
        (r.version_number, r.from_stage, r.to_stage, r.cause) for r in StageTransition.objects.all()
    }
    assert records == {
        (3, "None", "Production", "direct"),
        (1, "Production", "Archived", "archived_by_promotion"),
        (2, "Production", "Archived", "archived_by_promotion"),
    }


def test_without_archive_existing_versions_share_a_stage(make_version):
    v1, v2 = make_version(), make_version()
    services.version_transition_stage(version=v1, stage="Production", user=None)
    services.version_transition_stage(version=v2, stage="Production", user=None)
    assert stages(v1.registration) == {1: "Production", 2: "Production"}


def test_archive_existing_leaves_other_registrations_alone(make_version):
    other = make_version("other")
    services.version_transition_stage(version=other, stage="Production", user=None)
    mine = make_version("mine")
    services.version_transition_stage(
        version=mine, stage="Production", archive_existing=True, user=None
    )
    other.refresh_from_db()
    assert other.stage == "Production"


def test_moving_to_the_same_stage_records_nothing(make_version):
    version = make_version()
    services.version_transition_stage(version=version, stage="Staging", user=None)
    services.version_transition_stage(version=version, stage="Staging", user=None)
    assert StageTransition.objects.count() == 1


def test_stage_names_are_case_insensitive(make_version):
    version = make_version()
    services.version_transition_stage(version=version, stage="staging", user=None)
    version.refresh_from_db()
    assert version.stage == "Staging"


@pytest.mark.parametrize("stage", ["Live", "", None, "prod", 3])
def test_an_unknown_stage_is_refused_and_nothing_changes(make_version, stage):
    version = make_version()
    with pytest.raises(ValidationError) as excinfo:
        services.version_transition_stage(version=version, stage=stage, user=None)
    assert "stage" in excinfo.value.message_dict
    version.refresh_from_db()
    assert version.stage == "None"
    assert not StageTransition.objects.exists()


def test_archive_existing_is_only_for_staging_or_production(make_version):
    version = make_version()
    with pytest.raises(ValidationError):
        services.version_transition_stage(
            version=version, stage="Archived", archive_existing=True, user=None
        )


def test_a_contributor_promoting_to_production_only_asks(make_version, engineer):
    version = make_version()
    with pytest.raises(ApprovalRequested):
        services.version_transition_stage(version=version, stage="Production", user=engineer)
    version.refresh_from_db()
    assert version.stage == "None"
    assert not StageTransition.objects.exists()
    assert PromotionRequest.objects.get().state == "pending"


def test_taking_a_version_out_of_production_needs_the_promote_permission(make_version, engineer):
    version = make_version()
    services.version_transition_stage(version=version, stage="Production", user=None)
    with pytest.raises(PermissionDenied):
        services.version_transition_stage(version=version, stage="Archived", user=engineer)
    rival = make_version()
    services.version_transition_stage(version=rival, stage="Staging", user=engineer)
    # Archiving the Production version as a side effect is a Production change too.
    with pytest.raises(ApprovalRequested):
        services.version_transition_stage(
            version=rival, stage="Production", archive_existing=True, user=engineer
        )
    assert stages(version.registration) == {1: "Production", 2: "Staging"}


def test_staging_needs_only_the_change_permission(make_version, engineer, outsider):
    version = make_version()
    services.version_transition_stage(version=version, stage="Staging", user=engineer)
    with pytest.raises(PermissionDenied):
        services.version_transition_stage(version=version, stage="None", user=outsider)


def test_a_saved_history_row_refuses_a_second_save(make_version):
    version = make_version()
    services.version_transition_stage(version=version, stage="Staging", user=None)
    record = StageTransition.objects.get()
    record.comment = "rewritten"
    with pytest.raises(ValueError):
        record.save()
    assert StageTransition.objects.get().comment == ""


def test_a_transition_uses_the_current_stage_not_a_stale_copy(make_version):
    version = make_version()
    stale = ModelVersion.objects.get(pk=version.pk)
    services.version_transition_stage(version=version, stage="Staging", user=None)
    services.version_transition_stage(version=stale, stage="Production", user=None)
    last = StageTransition.objects.order_by("-id").first()
    assert (last.from_stage, last.to_stage) == ("Staging", "Production")
