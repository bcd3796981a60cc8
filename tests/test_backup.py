"""export_registry / import_registry: lossless round trip, all-or-nothing refusals, memory."""

import io
import json
import tracemalloc

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from models_app import services
from models_app.models import (
    ApiToken,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    Registry,
    StageTransition,
)
from models_app.services.backup import SECTIONS, registry_export

pytestmark = pytest.mark.django_db
TABLES = [model for model, _ in SECTIONS.values()]
USER_COLUMNS = {"created_by_id", "actor_id", "user_id"}


def snapshot() -> dict:
    """Every field of every exported table, users named by username (ids may differ)."""
    usernames = dict(get_user_model().objects.values_list("pk", "username"))
    state = {}
    for model in TABLES:
        rows = []
        for row in model.objects.order_by("pk").values():
            for column in USER_COLUMNS & row.keys():
                row[column] = usernames.get(row[column])
            rows.append(row)
        state[model.__name__] = rows
    return state


def export_text() -> str:
    out = io.StringIO()
    registry_export(out=out)
    return out.getvalue()


def import_file(tmp_path, text: str, *args):
    path = tmp_path / "registry.json"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_registry", str(path), *args, stdout=out)
    return out.getvalue()


def wipe_everything():
    for model in (ApiToken, ModelAlias, StageTransition, ModelVersion, ModelRegistration):
        model.objects.all().delete()
    Registry.objects.all().delete()
    get_user_model().objects.all().delete()


@pytest.fixture
def populated(registry, engineer, reviewer):
    call_command("seed_demo", stdout=io.StringIO())
    services.registry_create(
        name="team-mlflow",
        flavor="mlflow",
        config={"tracking_uri": "https://mlflow.example.com"},
        description='Ünïcode ✓ and "quotes"\nand lines',
        user=None,
    )
    version = services.version_register(
        registry=registry,
        name="edge-cases",
        model_source_uri="s3://bucket/edge/model",
        metrics={"tiny": 1e-300, "third": 1 / 3, "neg": -0.0, "big": 1.7976931348623157e308},
        parameters={"lr": "0.1", "empty": ""},
        tags={"emoji": "🚀", "nested?": "no"},
        metadata={"deep": {"list": [1, 2.5, None, True, {"x": "y"}]}, "n": 12345678901234},
        pipeline_name="p",
        experiment_run_id="run-1",
        user=engineer,
    )
    services.version_transition_stage(
        version=version, stage="Production", archive_existing=True, comment="ok", user=reviewer
    )
    services.alias_set(version=version, alias="champion", user=reviewer)
    services.token_create(owner=engineer, name="nightly", user=None)
    revoked, _ = services.token_create(owner=reviewer, name="old", user=None)
    services.token_revoke(token=revoked, user=None)
    return snapshot()


def test_a_round_trip_into_an_empty_database_is_lossless(populated, tmp_path):
    text = export_text()
    assert "digest" not in text and "mr_" not in text and "password" not in text
    before = populated
    assert len(before["ModelVersion"]) > 20 and before["StageTransition"] and before["ModelAlias"]
    wipe_everything()
    started = timezone.now()
    output = import_file(tmp_path, text)
    assert "Imported" in output
    after = snapshot()
    # Tokens come back as records only: no digest, and the active ones revoked by the import.
    for token in before["ApiToken"]:
        token["digest"] = ""
        if token["revoked_at"] is None:
            token["revoked_at"] = "set by the import"
    for token in after["ApiToken"]:
        if token["revoked_at"] >= started:
            token["revoked_at"] = "set by the import"
    for table in before:
        assert after[table] == before[table], table
    # Users referred to were recreated by name, without a usable password.
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()
    # New rows continue after the imported ids.
    registry = Registry.objects.get(name="default")
    version = services.version_register(
        registry=registry, name="after-import", model_source_uri="s3://b/m", user=None
    )
    assert version.pk > max(row["id"] for row in before["ModelVersion"])


def test_the_export_is_one_versioned_json_document(populated):
    document = json.loads(export_text())
    assert document["format"] == "model-registry-export"
    assert document["format_version"] == 1
    for section in ("users", *SECTIONS):
        assert document["counts"][section] == len(document[section])
    assert document["counts"]["versions"] == ModelVersion.objects.count()
    assert {u["username"] for u in document["users"]} >= {"alice", "bob"}
    assert all("password" not in user for user in document["users"])


def test_an_import_keeps_users_that_exist(populated, tmp_path, engineer):
    text = export_text()
    for model in (ApiToken, ModelAlias, StageTransition, ModelVersion, ModelRegistration):
        model.objects.all().delete()
    Registry.objects.all().delete()
    import_file(tmp_path, text)
    engineer.refresh_from_db()
    assert engineer.check_password("alice-pass-123")
    assert ModelVersion.objects.filter(created_by=engineer).exists()


# Refusals change nothing ----------------------------------------------------------------
def refused(tmp_path, text: str, *args) -> str:
    before = snapshot()
    with pytest.raises(CommandError) as excinfo:
        import_file(tmp_path, text, *args)
    assert snapshot() == before
    return str(excinfo.value)


@pytest.fixture
def exported(populated):
    text = export_text()
    wipe_everything()
    return text


def test_a_non_empty_registry_is_refused_unless_replace(populated, tmp_path):
    text = export_text()
    message = refused(tmp_path, text)
    assert "not empty" in message and "--replace" in message
    services.registration_create(
        registry=Registry.objects.get(name="default"), name="extra", user=None
    )
    import_file(tmp_path, text, "--replace")
    assert not ModelRegistration.objects.filter(name="extra").exists()
    assert ModelVersion.objects.count() == len(populated["ModelVersion"])


def test_a_truncated_file_is_refused(exported, tmp_path):
    cut = exported[: int(len(exported) * 0.7)]
    assert "truncated" in refused(tmp_path, cut)
    # Cut right before the counts: every section is complete, the end is missing.
    assert "truncated" in refused(tmp_path, exported[: exported.index('"counts"')])


def test_a_corrupt_file_is_refused(exported, tmp_path):
    middle = len(exported) // 2
    corrupt = exported[:middle] + "\x00}{garbage" + exported[middle:]
    assert "not valid JSON" in refused(tmp_path, corrupt)
    assert "Not a JSON file" in refused(tmp_path, "")
    assert "Not a JSON file" in refused(tmp_path, "\x89PNG\r\n")


def test_a_foreign_file_is_refused(exported, tmp_path):
    assert "Not a model registry export" in refused(tmp_path, '[{"model": "auth.user"}]')
    assert "Not a model registry export" in refused(tmp_path, '{"registered_models": []}')
    newer = exported.replace('"format_version": 1', '"format_version": 2', 1)
    assert "version 2 is not one this registry reads" in refused(tmp_path, newer)


def test_a_missing_record_is_caught_by_the_counts(exported, tmp_path):
    lines = exported.splitlines(keepends=True)
    start = lines.index('"versions": [\n')
    # Drop the second version record (a whole line with its trailing comma).
    edited = "".join(lines[: start + 2] + lines[start + 3 :])
    message = refused(tmp_path, edited)
    assert "versions: the file holds" in message


def test_a_bad_value_is_named(exported, tmp_path):
    document = json.loads(exported)
    document["versions"][3]["stage"] = "Shipped"
    message = refused(tmp_path, json.dumps(document))
    assert "versions[3]" in message and "stage" in message and "'Shipped'" in message
    document = json.loads(exported)
    document["registrations"][0]["surprise"] = 1
    assert "unknown surprise" in refused(tmp_path, json.dumps(document))
    document = json.loads(exported)
    document["transitions"][0]["created_at"] = "2026-01-01T00:00:00"
    assert "time zone" in refused(tmp_path, json.dumps(document))


def test_records_that_do_not_fit_together_are_refused(exported, tmp_path):
    document = json.loads(exported)
    document["versions"][0]["registration_id"] = 987654
    message = refused(tmp_path, json.dumps(document))
    assert "do not fit together" in message
    document = json.loads(exported)
    document["versions"][1]["id"] = document["versions"][0]["id"]
    assert "do not fit together" in refused(tmp_path, json.dumps(document))


# Bounded memory --------------------------------------------------------------------------
class Sink(io.TextIOBase):
    def __init__(self):
        self.size = 0

    def write(self, text):
        self.size += len(text)
        return len(text)


def export_peak() -> tuple[int, int]:
    sink = Sink()
    tracemalloc.start()
    try:
        registry_export(out=sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sink.size


def seed(registrations: int):
    out = io.StringIO()
    call_command(
        "seed_bulk", registrations=registrations, versions=20, no_progress=True, stdout=out
    )


def test_export_memory_does_not_grow_with_the_registry(registry, monkeypatch):
    # Rows are fetched in chunks; smaller chunks let 1k versions already fill several.
    monkeypatch.setattr("models_app.services.backup.BATCH", 200)
    seed(50)
    small_peak, small_size = export_peak()
    seed(450)
    large_peak, large_size = export_peak()
    assert ModelVersion.objects.count() == 10_000
    assert large_size > 9 * small_size
    # Ten times the versions, about the same peak: rows are streamed, not gathered.
    assert large_peak < 2 * small_peak + 1_000_000, (small_peak, large_peak)
