"""Test settings: the real settings with a throwaway key and a file-backed SQLite test DB."""

import os
import secrets
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
# A developer's `.env` (written by `make run`) must not change what the tests see.
os.environ["DJANGO_ENV_FILE"] = ""

from registry_site.settings import *  # noqa: F403
from registry_site.settings import DATABASES

# The live server's handler threads outlive a test while a client keeps its connection alive;
# closing their database connection after each request lets teardown drop the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so threads and the live server share one database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"registry-test-{os.getpid()}.sqlite3")
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
# Pages render without a collectstatic manifest; tests/test_deploy.py checks the real storage.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = True

# Tasks run as they are enqueued, so a test sees a sync's result at once.
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}

# The example flavors the tests use, by name (only known flavors are ever imported).
MODEL_REGISTRY_FLAVORS = {
    **MODEL_REGISTRY_FLAVORS,  # noqa: F405
    "no-delete": "tests.example_flavors.NoDeleteFlavor",
    "refusing": "tests.example_flavors.RefusingFlavor",
    "dict": "tests.example_flavors.DictFlavor",
    "run-pages": "tests.example_flavors.RunPagesFlavor",
    "append-only": "tests.example_flavors.AppendOnlyFlavor",
    "overpromising": "tests.example_flavors.OverpromisingFlavor",
}

# The tests run MLflow servers on 127.0.0.1 and the MLflow client registers local paths:
# allowed here explicitly (tests/test_registry_security.py proves the defaults refuse them).
MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = True
# Webhook receivers in tests listen on loopback (tests/test_webhooks.py proves the default).
MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True
MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = [tempfile.gettempdir(), str(BASE_DIR)]  # noqa: F405

# The suite makes thousands of API calls from one client; tests/test_security.py lowers the
# rates again to prove the limits trigger.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"token": "100000/min", "anon": "100000/min"},
}
