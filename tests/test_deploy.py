"""Deploying as the README says: static files without DEBUG, the checkout's `.env`, health,
503 while the database is down, the Redis task queue with a real worker, and deploy files that
run the README's commands."""

import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from asgiref.local import Local
from django.db import connection
from django.tasks import task_backends
from mlflow import MlflowClient
from playwright.sync_api import expect

from models_app import services
from models_app.models import ModelRegistration

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_KEY = "x9" * 30 + "-deploy-test-key"
# Each helper or CI run may point this at its own Redis database.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROXY = {"X-Forwarded-Proto": "https"}


def production_env(tmp_path: Path, **extra: str) -> dict:
    """What a deployment's processes see: no DEBUG, no `.env`, a key, behind a TLS proxy."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "registry_site.settings",
        "DJANGO_ENV_FILE": "",
        "DJANGO_SECRET_KEY": PRODUCTION_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_BEHIND_TLS_PROXY": "1",
        "SQLITE_PATH": str(tmp_path / "registry.sqlite3"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        **extra,
    }


def manage(*args: str, env: dict, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """gunicorn with the production settings and gunicorn.conf.py, after migrate+collectstatic."""
    tmp = tmp_path_factory.mktemp("deploy")
    port = free_port()
    env = production_env(tmp, GUNICORN_BIND=f"127.0.0.1:{port}")
    for command in (("migrate", "--no-input", "-v0"), ("collectstatic", "--no-input", "-v0")):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "registry_site.wsgi", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, "gunicorn exited"
            time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not answer /healthz")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_static_files_are_served_hashed_and_compressed_without_debug(production_server):
    page = requests.get(f"{production_server}/login/", headers=PROXY, timeout=5)
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    css = [a for a in assets if re.fullmatch(r"/static/css/registry\.[0-9a-f]{12}\.css", a)]
    htmx = [a for a in assets if re.fullmatch(r"/static/django_htmx/htmx.*\.[0-9a-f]{12}\.js", a)]
    assert css and htmx, assets
    for asset in assets:
        response = requests.get(
            f"{production_server}{asset}", headers={**PROXY, "Accept-Encoding": "gzip"}, timeout=5
        )
        assert response.status_code == 200, asset
        assert response.headers["Content-Encoding"] == "gzip", asset
        assert "immutable" in response.headers["Cache-Control"], asset
    stylesheet = requests.get(f"{production_server}{css[0]}", headers=PROXY, timeout=5)
    assert ".badge" in stylesheet.text


def test_swagger_ui_renders_from_hashed_local_assets_without_debug(production_server, page):
    page.set_extra_http_headers(PROXY)
    failed, loaded = [], []

    def record(response):
        if "/static/" in response.url:
            (loaded if response.status == 200 else failed).append(response.url)

    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", record)
    page.goto(f"{production_server}/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15000)
    assert not failed, failed
    swagger = [url for url in loaded if "swagger-ui" in url]
    assert any(re.search(r"swagger-ui-bundle\.[0-9a-f]{12}\.js$", url) for url in swagger), loaded
    assert any(re.search(r"swagger-ui\.[0-9a-f]{12}\.css$", url) for url in swagger), loaded


def test_the_env_file_make_writes_lets_every_printed_command_run(tmp_path):
    env_file = tmp_path / ".env"
    result = subprocess.run(
        ["make", "-s", "env", f"ENV_FILE={env_file}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert values["DJANGO_DEBUG"] == "1" and len(values["DJANGO_SECRET_KEY"]) >= 50

    # A fresh shell: nothing but PATH; the settings find the key in the env file.
    shell = {
        "PATH": os.environ["PATH"],
        "DJANGO_ENV_FILE": str(env_file),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    assert manage("migrate", "-v0", env=shell).returncode == 0
    assert "password:" in manage("ensure_admin", env=shell).stdout
    again = manage("ensure_admin", env=shell).stdout
    printed = re.search(r"reset with: (.+ manage\.py changepassword admin)\)", again)
    assert printed, again
    # The interpreter printed is one that runs this project's commands.
    python = shlex.split(printed.group(1))[0]
    token = manage("create_token", "admin", env=shell, python=python)
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("mr_")
    listing = manage("model_registry", "models", "list", "--json", env=shell, python=python)
    assert listing.returncode == 0 and json.loads(listing.stdout) == []

    # Without the file and without DEBUG, the settings still refuse to start without a key.
    refused = manage("check", env={**shell, "DJANGO_ENV_FILE": str(tmp_path / "missing")})
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY must be set" in refused.stderr


@pytest.mark.django_db
def test_healthz_checks_the_database_and_the_queue(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "ok", "status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_answers_503_naming_an_unreachable_queue(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "queue": "unreachable (ConnectionError)",
        "status": "unavailable",
    }


def test_an_unreachable_database_answers_503_in_each_surface_shape(tmp_path):
    """A real driver failing to connect: API, MLflow API, pages and /healthz each say 503."""
    script = """
import json, django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
bearer = {"HTTP_AUTHORIZATION": "Bearer mr_prefix_looked-up-in-the-database"}
out = {}
for name, path, headers in [
    ("api", "/api/v1/models/", bearer),
    ("mlflow", "/api/2.0/mlflow/registered-models/search", bearer),
    ("page", "/models/", {"HTTP_COOKIE": "sessionid=" + "a" * 32}),
    ("healthz", "/healthz", {}),
]:
    r = client.get(path, secure=True, **headers)
    out[name] = [r.status_code, r["Content-Type"], r.content.decode(), r.get("Retry-After")]
print(json.dumps(out))
"""
    env = production_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/registry")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    out = json.loads(result.stdout.strip().splitlines()[-1])
    status, content_type, body, retry_after = out["api"]
    assert (status, content_type, retry_after) == (503, "application/json", "30")
    assert json.loads(body) == {
        "status": 503,
        "code": "unavailable",
        "detail": "The database is unavailable; try again shortly.",
        "errors": {},
    }
    status, _, body, _ = out["mlflow"]
    assert status == 503 and json.loads(body)["error_code"] == "TEMPORARILY_UNAVAILABLE"
    status, content_type, body, _ = out["page"]
    assert status == 503 and content_type.startswith("text/html") and "unavailable" in body
    status, _, body, _ = out["healthz"]
    assert status == 503 and json.loads(body)["database"] == "unreachable (OperationalError)"


def _database_env() -> dict:
    """The test database, for a worker process of its own."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return {"SQLITE_PATH": db["NAME"]}
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {"DATABASE_URL": f"postgres://{user}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


@pytest.mark.django_db(transaction=True)
def test_the_redis_queue_and_a_worker_process_run_a_requested_sync(
    mlflow_server, settings, tmp_path
):
    """TASKS_REDIS_URL: the request queues the sync in Redis; `tasks_worker` (RQ) runs it."""
    import django_rq

    def reset_backends():
        task_backends.__dict__.pop("settings", None)
        task_backends._settings = None
        task_backends._connections = Local()

    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    settings.RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    reset_backends()
    try:
        mlflow_server.wipe()
        MlflowClient(
            tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url
        ).create_registered_model("redis-queued-model")
        registry = services.registry_create(
            name="via-redis",
            flavor="mlflow",
            config={"tracking_uri": mlflow_server.url},
            user=None,
        )
        run = services.sync_request(registry=registry, user=None)
        run.refresh_from_db()
        assert run.status == "queued"
        assert django_rq.get_queue("default").count >= 1

        env = {
            **production_env(
                tmp_path,
                TASKS_REDIS_URL=REDIS_URL,
                # The test's MLflow server listens on loopback.
                MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS="1",
            ),
            **_database_env(),
        }
        worker = subprocess.run(
            [sys.executable, "manage.py", "tasks_worker", "--batch", "-v0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr
        run.refresh_from_db()
        assert run.status == "succeeded", (run.status, run.error, worker.stderr)
        assert run.models_created == 1
        assert ModelRegistration.objects.filter(
            registry=registry, name="redis-queued-model"
        ).exists()
    finally:
        settings.TASKS = {
            "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
        }
        reset_backends()


# The deploy files and the README's "Deploy" section: one sequence of commands.


def _readme_deploy() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Deploy")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def _normalise(command: str) -> str:
    """`/srv/x/.venv/bin/python manage.py ...` and `["python", ...]` both read `python ...`."""
    words = shlex.split(command)
    words[0] = Path(words[0]).name
    return " ".join(words)


def _deploy_commands() -> dict[str, str]:
    commands = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            commands["Dockerfile CMD"] = " ".join(json.loads(line[4:]))
        elif line.startswith("RUN ") and "manage.py" in line:
            commands["Dockerfile RUN"] = "python " + line.split(" python ", 1)[1]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if "command" in service:
            commands[f"compose {name}"] = " ".join(service["command"])
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(": ")
        commands[f"Procfile {name}"] = command
    for unit in (ROOT / "deploy").glob("*.service"):
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                commands[unit.name] = line.removeprefix("ExecStart=")
    return {where: _normalise(command) for where, command in commands.items()}


def test_every_deploy_file_runs_the_commands_the_readme_gives():
    deploy = _readme_deploy()
    commands = _deploy_commands()
    assert {
        "Dockerfile CMD",
        "Dockerfile RUN",
        "compose migrate",
        "compose web",
        "compose worker",
        "Procfile web",
        "Procfile worker",
        "Procfile release",
        "model-registry-web.service",
        "model-registry-worker@.service",
    } <= set(commands)
    for where, command in commands.items():
        assert command in deploy, f"{where} runs `{command}`, which README's Deploy does not give"
    for step in (
        "python manage.py migrate --no-input",
        "python manage.py collectstatic --no-input",
        "python manage.py createsuperuser",
        "gunicorn registry_site.wsgi --workers",
        "python manage.py tasks_worker",
        "X-Forwarded-Proto",
        "DJANGO_BEHIND_TLS_PROXY=1",
    ):
        assert step in deploy, step


def test_compose_runs_postgres_redis_web_and_worker_from_the_image():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services_ = compose["services"]
    assert services_["db"]["image"].startswith("postgres:")
    assert services_["redis"]["image"].startswith("redis:")
    for name in ("migrate", "web", "worker"):
        service = services_[name]
        assert service["build"] == "." and service["image"] == "model-registry"
        environment = service["environment"]
        assert (
            environment["DATABASE_URL"].startswith("postgres://")
            and "@db:5432/" in (environment["DATABASE_URL"])
        )
        assert environment["TASKS_REDIS_URL"].startswith("redis://redis:6379/")
        assert environment["CACHE_REDIS_URL"].startswith("redis://redis:6379/")
        # Refuses to start without a key rather than run with a known one.
        assert environment["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
        assert environment["DJANGO_BEHIND_TLS_PROXY"] == "1"
    for name in ("web", "worker"):
        depends = services_[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def _variables_read(path: Path) -> set[str]:
    pattern = r"""(?:environ\.get|environ\.setdefault|env\w+)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    return set(re.findall(pattern, path.read_text()))


def test_every_environment_variable_the_settings_read_is_documented():
    readme = (ROOT / "README.md").read_text()
    variables = _variables_read(ROOT / "registry_site" / "settings.py") | _variables_read(
        ROOT / "gunicorn.conf.py"
    )
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "TASKS_REDIS_URL", "GUNICORN_BIND"} <= variables
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not missing, f"README does not document {missing}"


def test_cache_redis_url_gives_every_web_process_one_cache(tmp_path):
    """What one process counts (a rate limit), another process sees."""
    key = f"deploy-test-{os.getpid()}-{time.monotonic_ns()}"
    code = (
        "import sys, django; django.setup(); from django.core.cache import cache; "
        "print(cache.incr(sys.argv[1]) if cache.has_key(sys.argv[1]) "
        "else cache.add(sys.argv[1], 1, 60) and 1)"
    )
    env = production_env(tmp_path, CACHE_REDIS_URL=REDIS_URL)
    counts = [
        subprocess.run(
            [sys.executable, "-c", code, key], cwd=ROOT, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [c.stdout.strip() for c in counts] == ["1", "2"], [c.stderr for c in counts]
