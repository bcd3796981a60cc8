"""Webhooks: events queued with the change that causes them, delivered by the real task worker
(database queue and Redis) to a receiver on loopback, signed, retried with back-off, and never
sent to an internal address unless an administrator allows it."""

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from asgiref.local import Local
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.tasks import task_backends

from models_app import services
from models_app.models import Webhook, WebhookDelivery, WebhookEvent
from models_app.validation import clean_backend_uri, clean_webhook_url
from tests.test_deploy import ROOT, _database_env, production_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DUMMY = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


class Receiver:
    """A small HTTP server on loopback answering each POST with the next scripted status."""

    def __init__(self, *statuses: int, delay: float = 0.0, headers: dict | None = None):
        self.statuses = list(statuses) or [200]
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"headers": dict(self.headers), "body": body, "at": time.monotonic()}
                )
                time.sleep(delay)
                status = receiver.statuses[min(len(receiver.received), len(receiver.statuses)) - 1]
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?team=ml"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def verified(request: dict, secret: str) -> dict:
    """What a receiver does: check the signature over the raw body, then parse it."""
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Registry-Signature"], expected)
    return json.loads(request["body"])


def reset_task_backends():
    task_backends.__dict__.pop("settings", None)
    task_backends._settings = None
    task_backends._connections = Local()


@pytest.fixture
def tasks(settings):
    """Switch the task backend for one test (the test settings run tasks immediately)."""

    def use(config):
        settings.TASKS = config
        reset_task_backends()

    yield use
    settings.TASKS = IMMEDIATE
    reset_task_backends()


@pytest.fixture
def allow_loopback(settings):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True


def run_worker_until(done, env: dict, timeout: float = 90):
    """The real `manage.py tasks_worker` in its own process until `done()` holds."""
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "tasks_worker", "-v0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if worker.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate()
    return output


# Delivery through the real worker ---------------------------------------------------------


@pytest.mark.parametrize("queue", ["database", "redis"])
@pytest.mark.django_db(transaction=True)
def test_it_delivers_a_signed_event_and_retries_with_back_off_through_the_worker(
    queue, tasks, allow_loopback, make_version, tmp_path
):
    env = {
        **production_env(
            tmp_path,
            MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS="1",
            WEBHOOK_RETRY_SECONDS="1",
        ),
        **_database_env(),
    }
    if queue == "redis":
        import django_rq
        from rq.registry import ScheduledJobRegistry

        tasks({"default": {"BACKEND": "django_tasks_rq.RQBackend"}})
        from django.conf import settings

        settings.RQ_QUEUES = {"default": {"URL": REDIS_URL}}
        redis_queue = django_rq.get_queue("default")
        redis_queue.empty()
        for job_id in ScheduledJobRegistry(queue=redis_queue).get_job_ids():
            ScheduledJobRegistry(queue=redis_queue).remove(job_id, delete_job=True)
        env["TASKS_REDIS_URL"] = REDIS_URL
    else:
        tasks({"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}})

    with Receiver(500, 200) as receiver:
        webhook, secret = services.webhook_create(
            url=receiver.url, events=[WebhookEvent.VERSION_REGISTERED], user=None
        )
        version = make_version("churn", description="first")
        delivery = WebhookDelivery.objects.get(webhook=webhook)
        # Queued, not sent: the registration did not wait on the receiver.
        assert delivery.status == "pending" and receiver.received == []

        def delivered():
            delivery.refresh_from_db()
            return delivery.status != "pending"

        output = run_worker_until(delivered, env)

    assert delivery.status == "succeeded", (delivery.status, delivery.error, output)
    assert delivery.attempts == 2 and delivery.response_status == 200
    assert delivery.duration_ms is not None and delivery.error == ""
    first, second = receiver.received
    # The back-off: the second attempt waited at least WEBHOOK_RETRY_SECONDS.
    assert second["at"] - first["at"] >= 1.0
    for request in (first, second):
        body = verified(request, secret)
        assert request["headers"]["X-Registry-Event"] == "version.registered"
        assert request["headers"]["X-Registry-Delivery"] == str(delivery.uuid) == body["id"]
        assert request["headers"]["Content-Type"] == "application/json"
    assert body["event"] == "version.registered"
    assert body["registry"] == "default" and body["model"] == "churn"
    assert body["version"] == version.version and body["stage"] == "None"
    assert body["description"] == "first" and body["actor"] == "system"
    assert body["time"]


def test_a_tampered_body_fails_the_receivers_check():
    body = b'{"event":"test"}'
    request = {"headers": {"X-Registry-Signature": services.webhooks.sign("s3cret", body)}}
    assert verified({**request, "body": body}, "s3cret") == {"event": "test"}
    with pytest.raises(AssertionError):
        verified({**request, "body": b'{"event":"tset"}'}, "s3cret")
    with pytest.raises(AssertionError):
        verified({**request, "body": body}, "another-secret")


# Events: queued with the change, for the webhooks subscribed to them -------------------------


@pytest.mark.django_db
def test_events_are_queued_for_subscribed_webhooks_only(tasks, allow_loopback, make_version):
    tasks(DUMMY)
    churn = make_version("churn").registration
    other = make_version("other").registration
    everything, _ = services.webhook_create(
        url="http://127.0.0.1:9/all", events=services.webhooks.SUBSCRIBABLE, user=None
    )
    stages_of_churn, _ = services.webhook_create(
        url="http://127.0.0.1:9/churn",
        events=["version.stage_changed"],
        registration=churn,
        user=None,
    )
    aliases_of_other, _ = services.webhook_create(
        url="http://127.0.0.1:9/other", events=["alias.set"], registration=other, user=None
    )
    v2 = make_version("churn")
    services.version_transition_stage(version=v2, stage="Production", user=None)
    v3 = make_version("churn")
    services.version_transition_stage(
        version=v3, stage="Production", archive_existing=True, comment="better", user=None
    )
    services.alias_set(version=v3, alias="champion", user=None)

    def events(webhook):
        return [
            (d.event, d.payload.get("version"), d.payload.get("stage"))
            for d in webhook.deliveries.order_by("pk")
        ]

    assert events(everything) == [
        ("version.registered", 2, "None"),
        ("version.stage_changed", 2, "Production"),
        ("version.registered", 3, "None"),
        ("version.stage_changed", 3, "Production"),
        ("version.stage_changed", 2, "Archived"),
        ("alias.set", 3, "Production"),
    ]
    assert events(stages_of_churn) == [
        ("version.stage_changed", 2, "Production"),
        ("version.stage_changed", 3, "Production"),
        ("version.stage_changed", 2, "Archived"),
    ]
    assert events(aliases_of_other) == []
    archived = stages_of_churn.deliveries.order_by("pk").last().payload
    assert archived["from_stage"] == "Production"
    assert archived["cause"] == "archived_by_promotion"
    alias = everything.deliveries.get(event="alias.set").payload
    assert (alias["alias"], alias["previous_version"]) == ("champion", None)
    assert alias["model"] == "churn"


@pytest.mark.django_db
def test_nothing_is_queued_for_a_change_that_rolls_back(
    tasks, allow_loopback, make_version, django_capture_on_commit_callbacks
):
    tasks(DUMMY)
    services.webhook_create(url="http://127.0.0.1:9/", events=["version.registered"], user=None)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        make_version("churn")
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the surrounding change fails after the version was written")
    assert callbacks == [] and not WebhookDelivery.objects.exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_version("churn")
    assert len(callbacks) == 1 and WebhookDelivery.objects.count() == 1


# Delivery details, in-process ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_not_followed(tasks, allow_loopback):
    inside = Receiver(200)
    with inside, Receiver(302, headers={"Location": inside.url}) as hook:
        webhook, _ = services.webhook_create(url=hook.url, events=["alias.set"], user=None)
        tasks(IMMEDIATE)
        delivery = services.webhook_test(webhook=webhook, user=None)
    delivery.refresh_from_db()
    assert len(hook.received) == 1 and inside.received == []
    assert delivery.status == "failed" and delivery.response_status == 302
    assert "redirects are not followed" in delivery.error


@pytest.mark.django_db(transaction=True)
def test_a_slow_receiver_times_out(tasks, allow_loopback, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    with Receiver(200, delay=3) as hook:
        webhook, _ = services.webhook_create(url=hook.url, events=["alias.set"], user=None)
        started = time.monotonic()
        delivery = services.webhook_test(webhook=webhook, user=None)
        elapsed = time.monotonic() - started
    delivery.refresh_from_db()
    assert elapsed < 3
    assert delivery.status == "failed" and delivery.response_status is None
    assert "timed out" in delivery.error


@pytest.mark.django_db
def test_the_test_event_is_signed_with_the_secret_shown_once(
    allow_loopback, django_capture_on_commit_callbacks
):
    with Receiver(204) as hook:
        webhook, secret = services.webhook_create(
            url=hook.url, events=["version.registered"], name="CI", user=None
        )
        with django_capture_on_commit_callbacks(execute=True):
            delivery = services.webhook_test(webhook=webhook, user=None)
    delivery.refresh_from_db()
    assert secret.startswith("whsec_") and len(secret) > 40
    assert delivery.status == "succeeded" and delivery.response_status == 204
    body = verified(hook.received[0], secret)
    assert body["event"] == "test" and hook.received[0]["headers"]["X-Registry-Event"] == "test"
    assert hook.received[0]["headers"]["User-Agent"].startswith("model-registry-webhooks")


# SSRF: internal receivers refused unless an administrator allows them -----------------------


@pytest.fixture
def defaults(settings):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://app.localhost/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0.0.0.0:5000/",
        "http://metadata.google.internal/",
        # Not flagged private by Python, still internal: cloud metadata in the shared range,
        # the shared range itself, IPv4 hidden in IPv6 (mapped, 6to4), a 6to4 relay.
        "http://100.100.100.200/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[::ffff:100.100.100.200]/",
        "http://[2002:7f00:1::]/",
        "http://192.88.99.1/",
    ],
)
def test_internal_receivers_are_refused(defaults, url):
    with pytest.raises(ValidationError, match="MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS"):
        clean_webhook_url(url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://hooks.example/", "http"),
        ("file:///etc/passwd", "http"),
        ("gopher://hooks.example/", "http"),
        ("javascript:alert(1)", "http"),
        ("https://user:pass@hooks.example/", "credentials"),
        ("https://token@hooks.example/", "credentials"),
        ("https://hooks.example:99999/", "port"),
        ("https:///no-host", "host"),
        ("https://hooks.example/\x00", "NUL"),
        ("https://hooks.example/\x07", "control"),
    ],
)
def test_only_plain_http_urls_are_accepted(defaults, url, message):
    with pytest.raises(ValidationError, match=message):
        clean_webhook_url(url, resolve=False)


def _fake_dns(monkeypatch, answers: dict):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_a_name_resolving_to_an_internal_address_is_refused(defaults, monkeypatch):
    _fake_dns(
        monkeypatch,
        {"internal.example": "10.0.0.7", "meta.example": "169.254.169.254"},
    )
    for url in ("https://internal.example/hook", "https://meta.example/"):
        with pytest.raises(ValidationError, match="loopback, private"):
            clean_webhook_url(url)


def test_the_same_rule_guards_backends_and_webhooks_each_with_its_own_switch(settings):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = False
    assert clean_webhook_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/"
    with pytest.raises(ValidationError, match="MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS"):
        clean_backend_uri("http://127.0.0.1:8000/")
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = False
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = True
    assert clean_backend_uri("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/"
    with pytest.raises(ValidationError, match="MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS"):
        clean_webhook_url("http://127.0.0.1:8000/")


@pytest.mark.django_db
def test_creating_a_webhook_to_an_internal_address_writes_nothing(defaults):
    with pytest.raises(ValidationError) as refused:
        services.webhook_create(url="http://169.254.169.254/", events=["alias.set"], user=None)
    assert "url" in refused.value.message_dict
    assert not Webhook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_each_delivery_checks_the_address_again(tasks, settings, monkeypatch):
    """Allowed when created, refused when sent: the receiver is never called."""
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = True
    with Receiver(200) as hook:
        webhook, _ = services.webhook_create(url=hook.url, events=["alias.set"], user=None)
        settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS = False
        delivery = services.webhook_test(webhook=webhook, user=None)
    delivery.refresh_from_db()
    assert hook.received == []
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.error.startswith("Refused:") and "loopback" in delivery.error


@pytest.mark.django_db
def test_a_name_that_turns_internal_after_creation_is_refused_at_delivery(
    defaults, monkeypatch, django_capture_on_commit_callbacks
):
    _fake_dns(monkeypatch, {"rebind.example": "93.184.215.14"})
    webhook, _ = services.webhook_create(
        url="https://rebind.example/hook", events=["alias.set"], user=None
    )
    _fake_dns(monkeypatch, {"rebind.example": "127.0.0.1"})
    with django_capture_on_commit_callbacks(execute=True):
        delivery = services.webhook_test(webhook=webhook, user=None)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "loopback" in delivery.error
    assert delivery.response_status is None


@pytest.mark.django_db(transaction=True)
def test_failed_attempts_wait_longer_each_time_then_give_up(tasks, allow_loopback, settings):
    """What the worker runs, attempt by attempt: each failure queues the next one later."""
    settings.WEBHOOK_MAX_ATTEMPTS, settings.WEBHOOK_RETRY_SECONDS = 4, 10
    tasks(DUMMY)
    backend = task_backends["default"]
    with Receiver(500) as hook:
        webhook, _ = services.webhook_create(url=hook.url, events=["alias.set"], user=None)
        delivery = services.webhook_test(webhook=webhook, user=None)
        waits = []
        for _ in range(4):
            queued = backend.results[-1]
            assert queued.args == [delivery.pk]
            services.webhook_deliver(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            if delivery.next_attempt_at:
                retry = backend.results[-1]
                assert retry.task.run_after == delivery.next_attempt_at
                waits.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
    assert len(hook.received) == 4 and len(backend.results) == 4
    # Doubling, each rounded up to a whole second.
    assert [int(w) for w in waits] == [10, 20, 40]
    assert delivery.status == "failed" and delivery.attempts == 4
    assert delivery.response_status == 500 and "answered 500" in delivery.error
    # A finished delivery is not sent again if its task runs twice.
    assert services.webhook_deliver(delivery_id=delivery.pk) == "nothing to deliver"
    assert len(hook.received) == 4


# REST API and CLI ---------------------------------------------------------------------------


@pytest.fixture
def owned(make_version, outsider):
    """Model `churn`, owned by eve (who holds no global permission), and model `other`."""
    churn = make_version("churn").registration
    make_version("other")
    services.role_grant(registration=churn, principal="eve", role="owner", user=None)
    return churn


@pytest.fixture
def eve_api(outsider):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(outsider)
    return client


@pytest.mark.django_db
def test_api_creates_a_global_webhook_showing_its_secret_once(api, tasks):
    tasks(DUMMY)
    response = api.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/hook", "events": ["version.registered"], "name": "CI"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert response["Cache-Control"] == "no-store"
    assert created["secret"] == Webhook.objects.get().secret
    assert (created["model"], created["registry"], created["events"]) == (
        None,
        None,
        ["version.registered"],
    )
    listed = api.get("/api/v1/webhooks/").json()["results"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    detail = api.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in detail and detail["created_by"] == "root"

    tested = api.post(f"/api/v1/webhooks/{created['id']}/test/")
    assert tested.status_code == 202 and tested.json()["event"] == "test"
    log = api.get(f"/api/v1/webhooks/{created['id']}/deliveries/").json()["results"]
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [("test", "pending", 0)]
    assert api.get("/api/v1/webhooks/").json()["results"][0]["last_status"] == "pending"

    assert api.delete(f"/api/v1/webhooks/{created['id']}/").status_code == 204
    assert not Webhook.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_api_refuses_bad_webhooks_in_its_error_shape(api, defaults):
    cases = [
        ({"url": "http://10.0.0.1/", "events": ["alias.set"]}, "url"),
        ({"url": "ftp://hooks.example/", "events": ["alias.set"]}, "url"),
        ({"url": "http://1.1.1.1/", "events": ["version.deleted"]}, "events"),
        ({"url": "http://1.1.1.1/", "events": []}, "events"),
        ({"url": "http://1.1.1.1/", "events": "alias.set"}, "events"),
        ({"url": "http://1.1.1.1/", "events": ["test"]}, "events"),
        ({"url": 5, "events": ["alias.set"]}, "url"),
    ]
    for body, field in cases:
        response = api.post("/api/v1/webhooks/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json()["errors"], (body, response.json())
    missing = api.post(
        "/api/v1/webhooks/",
        {"url": "http://1.1.1.1/", "events": ["alias.set"], "model": "nope"},
        format="json",
    )
    assert missing.status_code == 404
    assert api.get("/api/v1/webhooks/99999999999999999999/").status_code == 404
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_a_models_owner_manages_its_webhooks_and_nothing_else(api, eve_api, owned, tasks):
    tasks(DUMMY)
    mine = eve_api.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/", "events": ["alias.set"], "model": "churn"},
        format="json",
    )
    assert mine.status_code == 201, mine.json()
    assert (mine.json()["registry"], mine.json()["model"]) == ("default", "churn")
    for model in (None, "other"):
        refused = eve_api.post(
            "/api/v1/webhooks/",
            {"url": "http://127.0.0.1:9/", "events": ["alias.set"], "model": model},
            format="json",
        )
        assert refused.status_code == 403, refused.json()
    global_hook = api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/", "events": ["alias.set"]}, format="json"
    ).json()
    # Eve lists only her model's webhook; the administrator sees both.
    assert [w["id"] for w in eve_api.get("/api/v1/webhooks/").json()["results"]] == [
        mine.json()["id"]
    ]
    assert len(api.get("/api/v1/webhooks/").json()["results"]) == 2
    gid = global_hook["id"]
    assert eve_api.get(f"/api/v1/webhooks/{gid}/").status_code == 403
    assert eve_api.get(f"/api/v1/webhooks/{gid}/deliveries/").status_code == 403
    assert eve_api.post(f"/api/v1/webhooks/{gid}/test/").status_code == 403
    assert eve_api.delete(f"/api/v1/webhooks/{gid}/").status_code == 403
    assert eve_api.post(f"/api/v1/webhooks/{mine.json()['id']}/test/").status_code == 202
    assert eve_api.delete(f"/api/v1/webhooks/{mine.json()['id']}/").status_code == 204
    assert list(Webhook.objects.values_list("pk", flat=True)) == [gid]


@pytest.mark.django_db
def test_the_webhook_list_reads_in_constant_queries(api, owned, django_assert_max_num_queries):
    for n in range(15):
        webhook, _ = services.webhook_create(
            url=f"http://127.0.0.1:9/{n}",
            events=["alias.set"],
            registration=owned if n % 2 else None,
            user=None,
        )
        WebhookDelivery.objects.create(webhook=webhook, uuid=uuid.uuid4(), event="test")
    with django_assert_max_num_queries(6):
        rows = api.get("/api/v1/webhooks/").json()["results"]
    assert len(rows) == 15 and {r["last_status"] for r in rows} == {"pending"}


def cli(*args: str) -> str:
    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_cli_creates_lists_tests_and_deletes_webhooks(owned, tasks, outsider):
    tasks(DUMMY)
    created = json.loads(
        cli(
            "webhooks", "create", "http://127.0.0.1:9/hook", "-e", "alias.set",
            "-e", "version.registered,version.stage_changed", "--model", "churn", "--json",
        )
    )  # fmt: skip
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["version.registered", "version.stage_changed", "alias.set"]
    text = cli("webhooks", "create", "http://127.0.0.1:9/all", "-e", "alias.set")
    assert "Secret (shown once" in text and Webhook.objects.count() == 2
    listed = json.loads(cli("webhooks", "list", "--model", "churn", "--json"))
    assert [w["id"] for w in listed] == [created["id"]]
    assert len(json.loads(cli("webhooks", "list", "--json"))) == 2
    # Eve owns churn: she sees its webhook only, and may not touch the global one.
    as_eve = json.loads(cli("webhooks", "list", "--json", "--user", "eve"))
    assert [w["id"] for w in as_eve] == [created["id"]]
    global_id = str(Webhook.objects.get(registration=None).pk)
    with pytest.raises(CommandError, match="view_webhook"):
        cli("webhooks", "test", global_id, "--user", "eve")
    with pytest.raises(CommandError, match="add_webhook"):
        cli("webhooks", "create", "http://127.0.0.1:9/", "-e", "alias.set", "--user", "eve")

    queued = json.loads(cli("webhooks", "test", str(created["id"]), "--json", "--user", "eve"))
    assert queued["event"] == "test" and queued["status"] == "pending"
    log = json.loads(cli("webhooks", "deliveries", str(created["id"]), "--json"))
    assert [d["uuid"] for d in log] == [queued["uuid"]]
    assert "test" in cli("webhooks", "deliveries", str(created["id"]))
    with pytest.raises(CommandError, match="not-a-url|http"):
        cli("webhooks", "create", "not-a-url", "-e", "alias.set")
    with pytest.raises(CommandError, match="No webhook"):
        cli("webhooks", "delete", "abc", "-y")
    cli("webhooks", "delete", str(created["id"]), "-y")
    assert list(Webhook.objects.values_list("pk", flat=True)) == [int(global_id)]


# Dashboard pages and admin ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_owner_adds_a_webhook_on_the_page_and_sees_its_secret_once(client, owned, outsider):
    client.force_login(outsider)
    form = {"url": "http://127.0.0.1:9/hook", "events": ["alias.set", "version.registered"]}
    refused = client.post("/webhooks/", {**form, "registry": "default", "model": ""})
    assert refused.status_code == 400 and "needs add_webhook" in refused.content.decode()
    assert not Webhook.objects.exists()
    response = client.post(
        "/webhooks/", {**form, "registry": "default", "model": "churn", "name": "Deploys"}
    )
    assert response.status_code == 302
    webhook = Webhook.objects.get()
    assert (webhook.registration, webhook.name) == (owned, "Deploys")
    assert webhook.events == ["version.registered", "alias.set"]
    page = client.get("/webhooks/")
    assert webhook.secret in page.content.decode() and page["Cache-Control"].count("no-store")
    again = client.get("/webhooks/").content.decode()
    assert webhook.secret not in again and "Deploys" in again and "default/churn" in again


@pytest.mark.django_db
def test_the_page_shows_a_refused_url_next_to_its_field(client, admin_user, defaults):
    client.force_login(admin_user)
    response = client.post(
        "/webhooks/", {"url": "http://169.254.169.254/", "events": ["alias.set"], "model": ""}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS" in " ".join(form.errors["url"])
    no_events = client.post("/webhooks/", {"url": "http://1.1.1.1/"})
    assert "events" in no_events.context["form"].errors
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_the_log_page_shows_deliveries_and_sends_a_test_event(
    client, admin_user, tasks, django_assert_max_num_queries
):
    tasks(DUMMY)
    client.force_login(admin_user)
    webhook, _ = services.webhook_create(
        url="http://127.0.0.1:9/", events=["alias.set"], name="Ops", user=None
    )
    for n in range(30):
        WebhookDelivery.objects.create(
            webhook=webhook,
            uuid=uuid.uuid4(),
            event="alias.set",
            status="failed",
            attempts=6,
            response_status=500,
            error=f"The receiver answered 500 ({n}).",
        )
    with django_assert_max_num_queries(12):
        page = client.get(f"/webhooks/{webhook.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "The receiver answered 500 (29)." in text
    assert "30 in all" in text and 'hx-trigger="every 2s"' not in text
    sent = client.post(f"/webhooks/{webhook.pk}/test/", follow=True)
    assert sent.redirect_chain[-1][0] == f"/webhooks/{webhook.pk}/"
    assert webhook.deliveries.filter(event="test", status="pending").exists()
    # A pending delivery: the log refreshes itself, and htmx gets just the log.
    assert 'hx-trigger="every 2s"' in sent.content.decode()
    partial = client.get(f"/webhooks/{webhook.pk}/", headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<section id="deliveries"')
    with django_assert_max_num_queries(10):
        listing = client.get("/webhooks/")
    assert "Ops" in listing.content.decode()
    assert client.get("/webhooks/999999/").status_code == 404
    assert client.get("/webhooks/x/").status_code == 404
    client.post(f"/webhooks/{webhook.pk}/delete/")
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_admin_lists_tests_and_deletes_webhooks_through_the_services(
    client, admin_user, tasks, outsider
):
    tasks(DUMMY)
    client.force_login(admin_user)
    webhook, _ = services.webhook_create(url="http://127.0.0.1:9/", events=["alias.set"], user=None)
    services.webhook_test(webhook=webhook, user=None)
    listing = client.get("/admin/models_app/webhook/")
    assert listing.status_code == 200 and "http://127.0.0.1:9/" in listing.content.decode()
    change = client.get(f"/admin/models_app/webhook/{webhook.pk}/change/").content.decode()
    assert "Latest deliveries" in change and webhook.secret not in change
    assert client.get("/admin/models_app/webhook/add/").status_code == 403
    client.post(
        "/admin/models_app/webhook/",
        {"action": "send_test_event", "_selected_action": [webhook.pk]},
    )
    assert webhook.deliveries.filter(event="test").count() == 2
    client.post(f"/admin/models_app/webhook/{webhook.pk}/delete/", {"post": "yes"})
    assert not Webhook.objects.exists()


@pytest.fixture
def tls_receiver(tmp_path):
    """A receiver over HTTPS with a self-signed certificate for 127.0.0.1."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    receiver = Receiver(200)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    receiver.url = receiver.url.replace("http://", "https://")
    with receiver:
        yield receiver, cert


@pytest.mark.django_db(transaction=True)
def test_https_deliveries_verify_the_receivers_certificate(tls_receiver, monkeypatch):
    import ssl

    receiver, cert = tls_receiver
    webhook, secret = services.webhook_create(url=receiver.url, events=["alias.set"], user=None)
    untrusted = services.webhook_test(webhook=webhook, user=None)
    untrusted.refresh_from_db()
    assert untrusted.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert receiver.received == []
    # Trusting the certificate: the pinned connection still checks it against the URL's host.
    real = ssl.create_default_context
    monkeypatch.setattr(
        services.webhooks.ssl, "create_default_context", lambda: real(cafile=str(cert))
    )
    trusted = services.webhook_test(webhook=webhook, user=None)
    trusted.refresh_from_db()
    assert trusted.status == "succeeded", trusted.error
    assert verified(receiver.received[0], secret)["event"] == "test"


@pytest.mark.django_db
def test_a_models_page_links_its_owner_to_its_webhooks(client, owned, outsider, django_user_model):
    services.webhook_create(
        url="http://127.0.0.1:9/churn", events=["alias.set"], registration=owned, user=None
    )
    services.webhook_create(url="http://127.0.0.1:9/all", events=["alias.set"], user=None)
    client.force_login(outsider)
    link = "/webhooks/?registry=default&model="
    assert link + "churn" in client.get("/models/default/churn/").content.decode()
    # Eve owns churn, not other: no link there.
    assert link not in client.get("/models/default/other/").content.decode()
    page = client.get("/webhooks/?registry=default&model=churn")
    assert [w.url for w in page.context["webhooks"]] == ["http://127.0.0.1:9/churn"]
    assert page.context["form"]["model"].value() == "churn"
    viewer = django_user_model.objects.create_user("vic", password="vic-pass-123")
    client.force_login(viewer)
    assert link not in client.get("/models/default/churn/").content.decode()
    assert client.get("/webhooks/?registry=default&model=churn").context["webhooks"] == []
