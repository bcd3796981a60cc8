"""Webhooks: subscriptions to registry events, delivered as signed JSON by background tasks.

For other services: call `emit(event, registration, payload)` inside the transaction that
makes the change (e.g. `emit(WebhookEvent.REQUEST_APPROVED, registration, {...})`). It writes
one delivery row per subscribed webhook in that transaction and queues their delivery with
`transaction.on_commit`, so nothing is sent for a change that rolls back and no request waits
on a receiver. `version_summary(version)` gives the usual fields of a version for a payload.

Each delivery is a POST of the JSON body with `X-Registry-Event`, `X-Registry-Delivery` (the
delivery's UUID) and `X-Registry-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the
webhook's secret>`. The URL is checked again (with DNS) before each attempt by the same rule as
registry backends, the connection goes to the address that was checked, redirects are not
followed, and a failure is retried with exponential back-off (settings.WEBHOOK_*).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from models_app import access, audit
from models_app.models import (
    ModelRegistration,
    ModelVersion,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from models_app.services._common import _actor_name, _real_user, _require
from models_app.validation import (
    Cleaner,
    clean_text,
    clean_webhook_url,
    outbound_addresses,
    redact_uri,
    short_reason,
)

SECRET_PREFIX = "whsec_"
SUBSCRIBABLE = [event for event in WebhookEvent.values if event != WebhookEvent.TEST]
USER_AGENT = "model-registry-webhooks/1"
# What is read of a receiver's reply: only its status matters.
_REPLY_BYTES = 1024


def _require_manage(user, registration: ModelRegistration | None, perm: str, doing: str) -> None:
    """Global webhooks need the webhook permission (`perm`); a registration's webhooks, the
    Owner role on it. `user=None` is a trusted operator."""
    if user is None:
        return
    if registration is None:
        _require(user, perm)
        return
    access.require(user, registration, access.Role.OWNER, doing)


def can_manage(user, registration: ModelRegistration | None) -> bool:
    try:
        _require_manage(user, registration, "add_webhook", "manage webhooks")
    except PermissionDenied:
        return False
    return True


def clean_events(value: Any, *, field: str = "events") -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError({field: f"Name one or more of: {', '.join(SUBSCRIBABLE)}."})
    if len(value) > len(SUBSCRIBABLE):
        raise ValidationError({field: f"At most {len(SUBSCRIBABLE)} events."})
    unknown = [str(e)[:50] for e in value if e not in SUBSCRIBABLE]
    if unknown:
        raise ValidationError(
            {
                field: f"Unknown event {', '.join(repr(e) for e in unknown)} (events: "
                f"{', '.join(SUBSCRIBABLE)})."
            }
        )
    return [event for event in SUBSCRIBABLE if event in value]


def webhook_create(
    *,
    url: str,
    events: list[str],
    registration: ModelRegistration | None = None,
    name: str = "",
    user,
) -> tuple[Webhook, str]:
    """A new webhook; returns it with its secret (shown to the user once)."""
    _require_manage(user, registration, "add_webhook", "add a webhook")
    clean = Cleaner()
    url = clean(clean_webhook_url, url)
    events = clean(clean_events, events)
    name = clean(clean_text, name, field="name", max_length=100)
    clean.done()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        webhook = Webhook.objects.create(
            name=name,
            url=url,
            registration=registration,
            events=events,
            secret=secret,
            created_by=_real_user(user),
        )
        _audit(webhook, audit.CREATE, user)
    return webhook, secret


def _audit(webhook: Webhook, action: str, user) -> None:
    """The webhook's settings in the audit log (never its secret)."""
    fields = {
        "name": webhook.name,
        "url": redact_uri(webhook.url),
        "events": webhook.events,
        "registration": str(webhook.registration or ""),
    }
    where = audit.at(webhook.registration) if webhook.registration is not None else {}
    audit.record(
        action=action,
        user=user,
        object_type="webhook",
        object_id=str(webhook.pk),
        **{**where, "object_repr": webhook.name or redact_uri(webhook.url)},
        changes=audit.created(fields) if action == audit.CREATE else audit.deleted(fields),
    )


def webhook_delete(*, webhook: Webhook, user) -> None:
    _require_manage(user, webhook.registration, "delete_webhook", "delete a webhook")
    with transaction.atomic():
        _audit(webhook, audit.DELETE, user)
        Webhook.objects.filter(pk=webhook.pk).delete()


def webhook_test(*, webhook: Webhook, user) -> WebhookDelivery:
    """Queue a `test` event to this webhook (whatever it subscribes to)."""
    _require_manage(user, webhook.registration, "change_webhook", "test a webhook")
    with transaction.atomic():
        payload = {"message": "A test event.", "requested_by": _actor_name(user)}
        if webhook.registration is not None:
            payload = {**_registration_fields(webhook.registration), **payload}
        return _queue(webhook, WebhookEvent.TEST, payload)


def version_summary(version: ModelVersion) -> dict[str, Any]:
    """A version's fields as events carry them."""
    return {
        "version": version.version,
        "stage": version.stage,
        "model_source_uri": version.model_source_uri,
        "description": version.description,
    }


def _registration_fields(registration: ModelRegistration) -> dict[str, Any]:
    return {"registry": registration.registry.name, "model": registration.name}


def emit(event: str, registration: ModelRegistration, payload: Mapping[str, Any]) -> int:
    """Queue `event` about `registration` to every active webhook subscribed to it (the
    registration's own and the global ones). Call inside the change's transaction; returns
    how many deliveries were queued. The body is {event, id, time, registry, model, ...payload}.
    """
    hooks = Webhook.objects.filter(
        Q(registration=registration) | Q(registration__isnull=True), active=True
    ).order_by("pk")
    count = 0
    for webhook in hooks:
        if event in webhook.events:
            _queue(webhook, event, {**_registration_fields(registration), **payload})
            count += 1
    return count


def _queue(webhook: Webhook, event: str, payload: Mapping[str, Any]) -> WebhookDelivery:
    delivery_uuid = uuid.uuid4()
    body = {
        **payload,
        "event": str(event),
        "id": str(delivery_uuid),
        "time": timezone.now().isoformat(),
    }
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, uuid=delivery_uuid, event=str(event), payload=body
    )
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _enqueue(delivery_id: int, run_after=None) -> None:
    from models_app.tasks import deliver_webhook_task

    task = deliver_webhook_task
    if run_after is not None:
        task = task.using(run_after=run_after)
    task.enqueue(delivery_id)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2x, 4x... at most an hour."""
    return timedelta(seconds=min(settings.WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1), 3600))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt at a delivery (the task's body): POST it, log the outcome, and on failure
    queue the next attempt after a growing delay, up to settings.WEBHOOK_MAX_ATTEMPTS."""
    from django.tasks import task_backends

    from models_app.tasks import deliver_webhook_task

    delivery = (
        WebhookDelivery.objects.select_related("webhook")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .first()
    )
    if delivery is None:
        return "nothing to deliver"
    webhook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Registry-Event": delivery.event,
        "X-Registry-Delivery": str(delivery.uuid),
        "X-Registry-Signature": sign(webhook.secret, body),
    }
    started = time.monotonic()
    status, error, final = _post(webhook.url, body, headers)
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    delivery.response_status = status
    delivery.error = error
    delivery.next_attempt_at = None
    if not error:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
    elif final or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    elif not task_backends[deliver_webhook_task.backend].supports_defer:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.error += " (not retried: this task backend cannot wait)"
    else:
        due = delivery.last_attempt_at + retry_delay(delivery.attempts)
        # Whole seconds, rounded up: RQ's scheduler keeps only whole seconds (rounded down).
        delivery.next_attempt_at = due.replace(microsecond=0) + timedelta(
            seconds=bool(due.microsecond)
        )
    delivery.save()
    if delivery.next_attempt_at is not None:
        _enqueue(delivery.pk, run_after=delivery.next_attempt_at)
    return f"{delivery.status} after {delivery.attempts} attempt(s)"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to by now."""

    def __init__(self, host, *, address: str, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, *, address: str, **kwargs):
        super().__init__(host, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, bool]:
    """POST `body` to `url`: (response status, error or "", whether retrying is pointless)."""
    try:
        url = clean_webhook_url(url, resolve=False)
        parts = urlsplit(url)
        addresses = outbound_addresses(
            parts.hostname,
            parts.port,
            field="url",
            allow_private=settings.MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS,
            setting="MODEL_REGISTRY_ALLOW_PRIVATE_WEBHOOKS",
        )
    except ValidationError as exc:
        reason = "; ".join(m for ms in exc.message_dict.values() for m in ms)
        # A name that does not resolve may resolve later; a refused address stays refused.
        return None, f"Refused: {reason}", "cannot be resolved" not in reason
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        parts.hostname,
        address=addresses[0],
        port=parts.port,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(_REPLY_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return None, short_reason(f"{type(exc).__name__}: {exc}"), False
    finally:
        connection.close()
    if 200 <= status < 300:
        return status, "", False
    if 300 <= status < 400:
        return status, f"The receiver answered {status}; redirects are not followed.", False
    return status, f"The receiver answered {status}.", False
