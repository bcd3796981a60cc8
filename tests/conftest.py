import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from models_app import selectors, services

# Browser tests drive live_server from a sync Playwright loop while the test also uses the ORM.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: `make test` installs it (apt-get install chromium)."
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screenshots/ (git-ignored) to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="models_app", codename__in=codenames)
    )
    # Permission caches live on the instance; a fresh copy sees the new grants.
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", password="root-pass-123")


@pytest.fixture
def api(admin_user):
    """The REST API as the administrator (modules may override it, e.g. with a token)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def registry(db):
    return selectors.registry_get()


@pytest.fixture
def engineer(django_user_model):
    user = django_user_model.objects.create_user("alice", password="alice-pass-123")
    return grant(
        user,
        "add_modelregistration",
        "change_modelregistration",
        "add_modelversion",
        "change_modelversion",
    )


@pytest.fixture
def reviewer(django_user_model):
    user = django_user_model.objects.create_user("bob", password="bob-pass-123")
    return grant(user, "change_modelversion", "promote_modelversion")


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("eve", password="eve-pass-123")


@pytest.fixture
def make_version(registry):
    """Register a version of `name` (default 'churn') as a trusted operator."""

    def make(name: str = "churn", **kwargs):
        kwargs.setdefault("model_source_uri", f"s3://bucket/{name}/model")
        return services.version_register(registry=registry, name=name, user=None, **kwargs)

    return make


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One real MLflow server for the session (about 8 s to start)."""
    from tests.mlflow_server import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture
def mlflow_registry(db, mlflow_server):
    """A Registry of flavor mlflow on the session's server, emptied first."""
    mlflow_server.wipe()
    return services.registry_create(
        name="mlflow-test", flavor="mlflow", config={"tracking_uri": mlflow_server.url}, user=None
    )
