"""Demo and bulk data, the demo administrator, and production settings."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from models_app.models import ModelAlias, ModelRegistration, ModelVersion, StageTransition

ROOT = Path(__file__).resolve().parent.parent


def run(command, *args, **env):
    out = StringIO()
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        call_command(command, *args, stdout=out, stderr=StringIO())
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out.getvalue()


def test_seed_demo_loads_models_history_and_aliases_once(db):
    run("seed_demo")
    assert ModelRegistration.objects.count() == 6
    assert ModelVersion.objects.filter(stage="Production").count() == 6
    assert StageTransition.objects.filter(cause="archived_by_promotion").exists()
    assert ModelAlias.objects.filter(name="champion").count() == 6
    assert all(v.lineage["pipeline_name"] for v in ModelVersion.objects.all())
    counts = ModelVersion.objects.count(), StageTransition.objects.count()
    assert "already loaded" in run("seed_demo")
    assert (ModelVersion.objects.count(), StageTransition.objects.count()) == counts


def test_seed_bulk_creates_registrations_with_versions(db):
    run("seed_bulk", "--registrations", "120", "--versions", "5", "--no-progress")
    assert ModelRegistration.objects.count() == 120
    assert ModelVersion.objects.count() == 600
    assert ModelRegistration.objects.filter(last_version_number=5).count() == 120
    assert ModelVersion.objects.filter(stage="Production").count() == 120
    assert ModelAlias.objects.filter(name="champion", version__stage="Production").count() == 120
    version = ModelVersion.objects.first()
    assert len(version.tags) == 3 and len(version.metrics) == 3
    run("seed_bulk", "--registrations", "10", "--versions", "1", "--no-progress")
    assert ModelRegistration.objects.count() == 130


def test_ensure_admin_generates_a_password_once(db):
    output = run("ensure_admin")
    password = output.split("password: ")[1].split()[0]
    assert len(password) >= 12
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert "exists" in run("ensure_admin")
    other = run("ensure_admin", "--username", "ops")
    assert password not in other


def test_ensure_admin_takes_the_password_from_the_environment(db):
    output = run("ensure_admin", DJANGO_ADMIN_PASSWORD="from-env-secret-1")
    assert "from-env-secret-1" not in output
    assert get_user_model().objects.get(username="admin").check_password("from-env-secret-1")


def _manage(*args, **env):
    base_env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_ENV_FILE": "",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**base_env, **env},
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="x9" * 30 + "-production-key-Zq",
        DJANGO_ALLOWED_HOSTS="models.example.com",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = _manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "url,engine",
    [
        ("postgres://u:p@db.example.com:5432/registry", "django.db.backends.postgresql"),
        ("", "django.db.backends.sqlite3"),
    ],
)
def test_database_url_selects_the_database(url, engine):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "registry_site.settings",
            "DJANGO_ENV_FILE": "",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": url,
        },
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == engine, result.stderr
