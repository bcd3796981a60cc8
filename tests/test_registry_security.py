"""Registries and secrets: backend URIs (no credentials, no internal hosts, no echoed bodies)
and artifact URIs (allowed schemes only), through every entry point."""

import http.server
import socket
import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from models_app import services
from models_app.exceptions import BackendError
from models_app.flavors.base import ModelVersionInfo
from models_app.models import ModelVersion, Registry, SyncRun
from models_app.validation import clean_backend_uri, clean_uri


@pytest.fixture
def defaults(settings):
    """The production defaults, which the test settings relax for local MLflow servers."""
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = False
    settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = []
    return settings


def test_the_test_settings_relax_the_defaults_explicitly():
    from registry_site import settings as production

    assert production.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS is False
    assert production.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS == []


# Credentials in tracking URIs -----------------------------------------------------------------
def test_credentials_in_a_tracking_uri_are_refused_and_not_echoed(db):
    with pytest.raises(ValidationError) as excinfo:
        services.registry_create(
            name="leaky",
            flavor="mlflow",
            config={"tracking_uri": "https://alice:s3cret@mlflow.example.com"},
            user=None,
        )
    assert "credentials" in str(excinfo.value) and "s3cret" not in str(excinfo.value)
    assert not Registry.objects.filter(name="leaky").exists()


def test_rest_and_cli_refuse_credentials_in_a_tracking_uri(api, db):
    response = api.post(
        "/api/v1/registries/",
        {"name": "leaky", "flavor": "mlflow", "config": {"tracking_uri": "http://u:pw@h.example"}},
        format="json",
    )
    assert response.status_code == 400 and "pw" not in response.content.decode()
    with pytest.raises(CommandError, match="credentials"):
        call_command(
            "model_registry",
            "register",
            "leaky",
            "--flavor",
            "mlflow",
            "--tracking-uri",
            "http://u:pw@h.example",
            stdout=StringIO(),
        )
    assert not Registry.objects.filter(name="leaky").exists()


def test_a_stored_uri_with_credentials_is_never_shown(client, admin_user, db):
    # A row from before the check (or written around it).
    Registry.objects.create(
        name="old", flavor="mlflow", config={"tracking_uri": "https://bob:hunter2@mlflow.example"}
    )
    client.force_login(admin_user)
    page = client.get(reverse("registries")).content.decode()
    assert "hunter2" not in page and "bob:" not in page
    assert "mlflow.example" in page
    with pytest.raises(BackendError) as excinfo:
        Registry.objects.get(name="old").get_flavor().get_model(name="m")
    assert "hunter2" not in str(excinfo.value)


# Server-side requests through a registry ------------------------------------------------------
@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:5000",
        "http://localhost:5000",
        "http://10.1.2.3",
        "http://192.168.0.10:5000",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:5000",
        "http://[::ffff:127.0.0.1]",
        "http://2130706433",
        "http://0x7f.1",
        "http://metadata.google.internal",
        "http://0.0.0.0:5000",
    ],
)
def test_internal_backends_are_refused_by_default(defaults, uri):
    with pytest.raises(ValidationError, match="loopback, private"):
        clean_backend_uri(uri)


@pytest.mark.parametrize(
    "uri", ["sqlite:///tmp/pwned.db", "file:///etc", "ftp://mlflow.example", "gopher://x", "mlruns"]
)
def test_only_http_and_databricks_backends_are_accepted(db, uri, tmp_path):
    with pytest.raises(ValidationError, match="http"):
        services.registry_create(
            name="odd", flavor="mlflow", config={"tracking_uri": uri}, user=None
        )
    assert not Registry.objects.filter(name="odd").exists()
    assert clean_backend_uri("databricks") == "databricks"
    assert clean_backend_uri("databricks://team-profile") == "databricks://team-profile"


def test_a_name_resolving_to_an_internal_address_is_refused(defaults, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
        if host == "public.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(ValidationError, match="loopback, private"):
        clean_backend_uri("https://rebind.example")
    assert clean_backend_uri("https://public.example") == "https://public.example"


def test_an_administrator_may_allow_internal_backends(settings, db):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = True
    registry = services.registry_create(
        name="local", flavor="mlflow", config={"tracking_uri": "http://127.0.0.1:5000"}, user=None
    )
    assert registry.config["tracking_uri"] == "http://127.0.0.1:5000"


def test_a_registry_stored_before_the_check_is_refused_at_use(defaults, db):
    registry = Registry.objects.create(
        name="old", flavor="mlflow", config={"tracking_uri": "http://169.254.169.254"}
    )
    with pytest.raises(BackendError, match="not allowed"):
        registry.get_flavor().get_model(name="m")


@pytest.fixture
def chatty_server():
    """An internal web server that answers every request with a page holding a secret."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            body = b"<html>INTERNAL-SECRET-TOKEN " + b"x" * 5000 + b"</html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_backends_reply_is_never_echoed(api, db, chatty_server):
    registry = services.registry_create(
        name="inside", flavor="mlflow", config={"tracking_uri": chatty_server}, user=None
    )
    response = api.post("/api/v1/models/", {"registry": "inside", "name": "m"}, format="json")
    assert response.status_code in {409, 502}, response.content
    body = response.content.decode()
    assert "INTERNAL-SECRET-TOKEN" not in body and len(body) < 1000
    with pytest.raises(Exception) as excinfo:
        services.registry_sync(registry=registry, user=None)
    assert "INTERNAL-SECRET-TOKEN" not in str(excinfo.value)
    run = SyncRun.objects.get(registry=registry)
    assert run.status == "failed" and "INTERNAL-SECRET-TOKEN" not in run.error
    assert len(run.error) <= 1000


# Artifact URIs ---------------------------------------------------------------------------------
ACCEPTED = [
    "runs:/0123456789abcdef/model",
    "models:/m-0123456789abcdef",
    "models:/churn/3",
    "models:/churn@champion",
    "mlflow-artifacts:/0/0123abcd/artifacts/model",
    "mlflow-artifacts://mlflow.example.com/0/abc/artifacts/model",
    "s3://bucket/churn/1/model",
    "s3://1/0",
    "gs://bucket/path/model",
    "wasbs://container@account.blob.core.windows.net/path/model",
    "abfss://container@account.dfs.core.windows.net/path/model",
    "hdfs://namenode.example.com:8020/models/churn",
    "dbfs:/databricks/mlflow-tracking/1/abc/artifacts/model",
    "https://models.example.com/churn/model.tar.gz",
    "https://models.example.com/download?id=42",
]

REFUSED = [
    ("../../etc/passwd", "'..'"),
    ("s3://bucket/../../etc", "'..'"),
    ("s3://bucket/%2e%2e/secret", "'..'"),
    ("s3://bucket/%252e%252e/secret", "'..'"),
    ("s3://bucket/..\\..\\secret", "'..'"),
    ("s3://bucket/a%5c..%5csecret", "'..'"),
    ("runs:/abc/model?path=../../etc", "'..'"),
    ("file:///etc/passwd", "Local paths"),
    ("/etc/passwd", "Local paths"),
    ("file://otherhost/share/model", "local path"),
    ("http://169.254.169.254/latest/meta-data/iam", "metadata host"),
    ("http://127.0.0.1:8080/model", "metadata host"),
    ("http://localhost/model", "metadata host"),
    ("https://metadata.google.internal/computeMetadata/v1/", "metadata host"),
    ("mlflow-artifacts://10.0.0.5/x", "metadata host"),
    ("https://user:pw@models.example.com/m", "credentials"),
    ("s3://bucket/model#../../etc", "'..'"),
    ("s3://bucket/model#part", "fragment"),
    ("runs:/abc/model?x=1", "query string"),
    ("javascript:alert(1)", "not allowed"),
    ("sqlite:///pwned.db", "not allowed"),
    ("s3://bucket/model\u202e", "invisible"),
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_sources_mlflow_and_zenml_produce_are_accepted(defaults, uri):
    assert clean_uri(uri) == uri


@pytest.mark.parametrize("uri,message", REFUSED)
def test_unsafe_artifact_uris_are_refused(defaults, uri, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        clean_uri(uri)


def test_local_paths_only_under_the_roots_an_administrator_lists(settings, tmp_path):
    settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = []
    with pytest.raises(ValidationError, match="MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS"):
        clean_uri(f"file://{tmp_path}/model")
    settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = [str(tmp_path)]
    assert clean_uri(f"file://{tmp_path}/mlruns/0/abc/artifacts/model")
    assert clean_uri(f"{tmp_path}/model")
    assert clean_uri("mlruns/0/abc/artifacts/model")  # relative, as a local MLflow logs it
    with pytest.raises(ValidationError):
        clean_uri(f"file://{tmp_path}-other/model")
    settings.MODEL_REGISTRY_ARTIFACT_LOCAL_ROOTS = ["/"]
    with pytest.raises(ValidationError):
        clean_uri("file:///etc/shadow")  # system paths stay refused even under '/'


def test_the_allowed_schemes_are_a_setting(settings):
    settings.MODEL_REGISTRY_ARTIFACT_SCHEMES = ["s3"]
    assert clean_uri("s3://bucket/m")
    with pytest.raises(ValidationError, match="not allowed"):
        clean_uri("gs://bucket/m")


BAD = "s3://bucket/%2e%2e/secret"


def test_rest_refuses_an_unsafe_artifact_uri(api, db):
    response = api.post(
        "/api/v1/models/default/churn/versions/", {"model_source_uri": BAD}, format="json"
    )
    assert response.status_code == 400
    assert "model_source_uri" in response.json()["errors"]
    assert not ModelVersion.objects.exists()


def test_mlflow_api_refuses_an_unsafe_artifact_uri(api, db):
    api.post("/api/2.0/mlflow/registered-models/create", {"name": "churn"}, format="json")
    response = api.post(
        "/api/2.0/mlflow/model-versions/create",
        {"name": "churn", "source": "file:///etc/passwd"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not ModelVersion.objects.exists()


def test_cli_refuses_an_unsafe_artifact_uri(db):
    with pytest.raises(CommandError, match="'..'"):
        call_command(
            "model_registry", "models", "register-version", "churn", "-u", BAD, stdout=StringIO()
        )
    assert not ModelVersion.objects.exists()


def test_the_registration_page_refuses_an_unsafe_artifact_uri(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("register_version"),
        {"registry": "default", "name": "churn", "model_source_uri": "http://169.254.169.254/x"},
    )
    assert response.status_code == 200
    assert "metadata host" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_bulk_creation_checks_artifact_uris(registry):
    with pytest.raises(ValidationError):
        services.registrations_bulk_create(
            registry=registry,
            registrations=[{"name": "m", "versions": [{"model_source_uri": BAD}]}],
            user=None,
        )
    assert not ModelVersion.objects.exists()


def test_sync_skips_versions_whose_artifact_uri_is_not_allowed(db):
    from tests.example_flavors import DictFlavor

    DictFlavor.stores.clear()
    registry = services.registry_create(name="dicty", flavor="dict", user=None)
    backend = registry.get_flavor()
    backend.register_model(name="m")
    for source in ("s3://bucket/good", "file:///etc/passwd"):
        backend.register_model_version(
            info=ModelVersionInfo(registered_model_name="m", model_source_uri=source)
        )
    run = services.registry_sync(registry=registry, user=None)
    assert list(
        ModelVersion.objects.filter(registration__registry=registry).values_list(
            "model_source_uri", flat=True
        )
    ) == ["s3://bucket/good"]
    assert run.status == "succeeded" and "Skipped 1 version" in run.error


def test_sync_errors_stored_before_are_sanitised_by_the_migration(db):
    from importlib import import_module
    from pathlib import Path

    from django.apps import apps

    migration = next(
        import_module(f"models_app.migrations.{path.stem}")
        for path in sorted((Path(__file__).parent.parent / "models_app/migrations").glob("0*.py"))
        if "promote_gate_history" in path.stem
    )
    registry = services.registry_create(name="old", user=None)
    run = SyncRun.objects.create(
        registry=registry,
        status="failed",
        error="MLflow at https://bob:hunter2@mlflow.example failed: Response body: '<html>x'",
    )
    migration.sanitise_sync_errors(apps, None)
    run.refresh_from_db()
    assert "hunter2" not in run.error and "<html>" not in run.error
    assert "mlflow.example failed" in run.error
