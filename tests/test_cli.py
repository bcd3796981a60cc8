"""`manage.py model_registry`: every subcommand, its output and its errors."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from models_app import services
from models_app.models import ModelRegistration, ModelVersion, StageTransition

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> str:
    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


def cli_json(*args: str):
    return json.loads(cli(*args, "--json"))


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn", metrics={"accuracy": 0.9}, metadata={"owner": "growth"})
    v2 = make_version("churn", metrics={"accuracy": 0.93})
    return v1, v2


def test_flavor_list_shows_builtin_with_capabilities(db):
    output = cli("flavor", "list")
    assert "builtin" in output and "transition_stage" in output
    data = cli_json("flavor", "list")
    assert data[0]["name"] == "builtin"
    assert "delete_model" in data[0]["capabilities"]


def test_models_register_and_get(db):
    assert "Registered model 'fraud'" in cli(
        "models", "register", "fraud", "-d", "Fraud", "-t", "team", "risk"
    )
    data = cli_json("models", "get", "fraud")
    assert data["description"] == "Fraud"
    assert data["tags"] == {"team": "risk"}
    assert "production_version" in cli("models", "get", "fraud")


def test_models_list_filters_by_tag(registry):
    services.registration_create(registry=registry, name="a", tags={"team": "risk"}, user=None)
    services.registration_create(registry=registry, name="b", tags={"team": "growth"}, user=None)
    assert [m["name"] for m in cli_json("models", "list")] == ["a", "b"]
    assert [m["name"] for m in cli_json("models", "list", "-m", "team", "risk")] == ["a"]
    table = cli("models", "list")
    assert table.splitlines()[0].split() == [
        "name",
        "latest",
        "production",
        "staging",
        "description",
        "updated",
    ]


def test_models_update_merges_tags_renames_and_removes(registry):
    services.registration_create(registry=registry, name="a", tags={"x": "1", "y": "2"}, user=None)
    cli("models", "update", "a", "-d", "new", "-t", "z", "3", "--rm", "x", "--new-name", "b")
    registration = ModelRegistration.objects.get()
    assert (registration.name, registration.description) == ("b", "new")
    assert registration.tags == {"y": "2", "z": "3"}


def test_models_delete_needs_confirmation_when_not_interactive(churn):
    with pytest.raises(CommandError, match="Pass -y"):
        cli("models", "delete", "churn")
    assert ModelRegistration.objects.exists()
    cli("models", "delete", "churn", "-y")
    assert not ModelRegistration.objects.exists()


def test_register_version_with_lineage_metrics_and_params(db):
    data = cli_json(
        "models",
        "register-version",
        "churn",
        "-u",
        "s3://b/churn/1",
        "-d",
        "first",
        "-m",
        "rows",
        "1000",
        "-t",
        "dataset",
        "w42",
        "--metric",
        "accuracy",
        "0.91",
        "--param",
        "lr",
        "0.01",
        "--model-format",
        "mlflow",
        "--model-library",
        "sklearn",
        "--pipeline-name",
        "train_churn",
        "--pipeline-run-id",
        "run-7",
        "--step-name",
        "train",
        "--run-id",
        "abc",
        "--code-version",
        "9f1c",
    )
    assert data["version"] == 1
    version = ModelVersion.objects.get()
    assert version.metrics == {"accuracy": 0.91}
    assert version.parameters == {"lr": "0.01"}
    assert version.metadata == {"rows": "1000"}
    assert version.tags == {"dataset": "w42"}
    assert version.lineage == {
        "pipeline_name": "train_churn",
        "pipeline_run_id": "run-7",
        "step_name": "train",
        "experiment_run_id": "abc",
        "code_version": "9f1c",
    }


def test_get_version_shows_everything(churn):
    output = cli("models", "get-version", "churn", "-v", "1")
    assert "s3://bucket/churn/model" in output and "accuracy" in output
    assert cli_json("models", "get-version", "churn", "-v", "2")["metrics"] == {"accuracy": 0.93}


def test_list_versions_filters_and_orders(churn):
    v1, v2 = churn
    services.version_transition_stage(version=v1, stage="Staging", user=None)
    assert [v["version"] for v in cli_json("models", "list-versions", "churn")] == [2, 1]
    assert [
        v["version"] for v in cli_json("models", "list-versions", "churn", "--stage", "staging")
    ] == [1]
    assert [
        v["version"] for v in cli_json("models", "list-versions", "churn", "--order-by-date", "asc")
    ] == [1, 2]
    assert [
        v["version"]
        for v in cli_json(
            "models", "list-versions", "churn", "--count", "1", "--order-by-date", "desc"
        )
    ] == [2]
    assert [
        v["version"] for v in cli_json("models", "list-versions", "churn", "-m", "owner", "growth")
    ] == [1]
    assert cli_json("models", "list-versions", "churn", "--created-after", "2999-01-01") == []
    assert (
        len(cli_json("models", "list-versions", "churn", "--created-before", "2999-01-01T00:00:00"))
        == 2
    )


def test_update_version_changes_stage_with_archive_existing_and_comment(churn):
    v1, v2 = churn
    services.version_transition_stage(version=v1, stage="Production", user=None)
    data = cli_json(
        "models",
        "update-version",
        "churn",
        "-v",
        "2",
        "-s",
        "production",
        "--archive-existing",
        "--comment",
        "better",
    )
    assert data["stage"] == "Production"
    v1.refresh_from_db()
    assert v1.stage == "Archived"
    assert StageTransition.objects.filter(version=v2, comment="better").exists()


def test_update_version_edits_metadata_tags_metrics_and_description(churn):
    cli(
        "models",
        "update-version",
        "churn",
        "-v",
        "1",
        "-d",
        "desc",
        "-m",
        "k",
        "v",
        "--rm",
        "owner",
        "-t",
        "t",
        "1",
        "--metric",
        "f1",
        "0.5",
    )
    version = ModelVersion.objects.get(version=1)
    assert version.description == "desc"
    assert version.metadata == {"k": "v"}
    assert version.tags == {"t": "1"}
    assert version.metrics == {"accuracy": 0.9, "f1": 0.5}


def test_a_refused_stage_change_leaves_other_edits_unapplied(churn):
    with pytest.raises(CommandError, match="Unknown stage"):
        cli("models", "update-version", "churn", "-v", "1", "-d", "changed", "-s", "Live")
    assert ModelVersion.objects.get(version=1).description == ""


def test_delete_version(churn):
    with pytest.raises(CommandError, match="Pass -y"):
        cli("models", "delete-version", "churn", "-v", "1")
    cli("models", "delete-version", "churn", "-v", "1", "-y")
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [2]


@pytest.mark.parametrize(
    "args,message",
    [
        (["models", "get", "ghost"], "Model 'ghost' does not exist"),
        (
            ["models", "get-version", "churn", "-v", "abc"],
            "Version must be a positive whole number",
        ),
        (["models", "get-version", "churn", "-v", "0"], "Version must be a positive whole number"),
        (["models", "get-version", "churn", "-v", "99"], "has no version 99"),
        (["models", "register", "churn"], "already exists"),
        (["models", "register", "a/b"], "must not contain '/'"),
        (["models", "register", " "], "must not be empty"),
        (
            ["models", "register-version", "churn", "-u", "s3://x", "--metric", "acc", "high"],
            "must be a number",
        ),
        (["models", "register-version", "churn", "-u", ""], "model_source_uri"),
        (["models", "list-versions", "churn", "--stage", "Live"], "Unknown stage"),
        (["models", "list-versions", "churn", "--created-after", "yesterday"], "is not a date"),
        (["models", "list-versions", "churn", "--count", "0"], "--count must be at least 1"),
        (
            ["models", "update-version", "churn", "-v", "1", "--archive-existing"],
            "needs -s/--stage",
        ),
        (
            [
                "models",
                "update-version",
                "churn",
                "-v",
                "1",
                "-s",
                "Archived",
                "--archive-existing",
            ],
            "Staging or Production",
        ),
        (["models", "list", "--registry", "nowhere"], "Registry 'nowhere' does not exist"),
        (["models", "list", "--user", "nobody"], "No user named 'nobody'"),
        (["models", "get-version", "churn"], "-v/--version"),
    ],
)
def test_errors_are_one_clear_line(churn, args, message):
    with pytest.raises(CommandError) as excinfo:
        cli(*args)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value).strip()


@pytest.mark.parametrize("flavor", [".x", "..a.B"])
def test_a_flavor_that_is_not_a_module_path_is_one_line(db, flavor):
    with pytest.raises(CommandError) as excinfo:
        cli("register", "odd", "--flavor", flavor)
    assert str(excinfo.value).startswith("flavor:") and f"'{flavor}'" in str(excinfo.value)
    assert "\n" not in str(excinfo.value).strip()


def test_acting_as_a_user_applies_their_permissions(churn, engineer):
    with pytest.raises(CommandError, match="permission"):
        cli("models", "delete-version", "churn", "-v", "1", "-y", "--user", "alice")
    cli("models", "update-version", "churn", "-v", "1", "-s", "Staging", "--user", "alice")
    assert StageTransition.objects.get().actor_name == "alice"


def test_without_a_user_history_names_the_system(churn):
    cli("models", "update-version", "churn", "-v", "1", "-s", "Staging")
    assert StageTransition.objects.get().actor_name == "system"


def test_registry_option_selects_another_registry(db):
    services.registry_create(name="team-b", user=None)
    cli("models", "register-version", "m", "-u", "s3://x", "--registry", "team-b")
    assert ModelRegistration.objects.get().registry.name == "team-b"
    assert cli_json("models", "list") == []


def test_the_command_line_exits_non_zero_with_one_line(tmp_path):
    """The real process: exit code and stderr, as a shell script sees them."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SQLITE_PATH": str(tmp_path / "cli.sqlite3"),
    }
    base = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*base, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    ok = subprocess.run(
        [*base, "model_registry", "models", "register-version", "m", "-u", "s3://x"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*base, "model_registry", "models", "get-version", "m", "-v", "7"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert bad.stderr.strip() == "CommandError: Model 'm' has no version 7."


def test_create_token_prints_a_working_token(engineer):
    from models_app.services import token_authenticate

    out = StringIO()
    call_command("create_token", "alice", "--name", "ci", stdout=out)
    secret = out.getvalue().strip()
    assert token_authenticate(secret).user == engineer
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_token", "ghost", stdout=StringIO())
