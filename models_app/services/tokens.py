"""API tokens: create, revoke, authenticate."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from models_app import audit
from models_app.models import (
    ApiToken,
)
from models_app.prepared import PreparedRead
from models_app.validation import (
    clean_text,
)

TOKEN_SCHEME = "mr"


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, owner, name: str = "", user) -> tuple[ApiToken, str]:
    """A new token for `owner`; returns it with the plaintext, which is never stored."""
    if user is not None and user != owner and not user.is_superuser:
        raise PermissionDenied("You can only create tokens for yourself.")
    name = clean_text(name, field="name", max_length=100)
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner, name=name, prefix=prefix, digest=_token_digest(secret)
        )
        # The prefix identifies the token; the secret is never recorded.
        audit.record(
            action=audit.CREATE,
            user=user,
            obj=token,
            changes=audit.created({"owner": owner.get_username(), "name": name, "prefix": prefix}),
        )
    return token, secret


def token_revoke(*, token: ApiToken, user) -> ApiToken:
    if user is not None and user != token.user and not user.is_superuser:
        raise PermissionDenied("You can only revoke your own tokens.")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db()
        if revoked:
            audit.record(action=audit.UPDATE, user=user, obj=token, changes=_revoked(token))
    return token


def _revoked(token: ApiToken) -> dict:
    return {"revoked_at": {"before": None, "after": token.revoked_at}}


def tokens_revoke_all(*, owner, user) -> int:
    """Revoke every active token of `owner`; returns how many were revoked.

    Called when the owner changes their password or is deactivated, and by "Revoke all".
    """
    if user is not None and user != owner and not user.is_superuser:
        raise PermissionDenied("You can only revoke your own tokens.")
    with transaction.atomic():
        active = list(
            ApiToken.objects.select_for_update()
            .select_related("user")
            .filter(user=owner, revoked_at__isnull=True)
        )
        now = timezone.now()
        ApiToken.objects.filter(pk__in=[token.pk for token in active]).update(revoked_at=now)
        for token in active:
            token.revoked_at = now
        audit.record_many(
            audit.event(action=audit.UPDATE, user=user, obj=token, changes=_revoked(token))
            for token in active
        )
        return len(active)


# Every API request reads its token: compiled once per connection. The prefix is unique.
_ACTIVE_TOKEN = PreparedRead(
    lambda prefix: (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .order_by()[:1]
    ),
    str,
)


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token matching `secret`, marking it used (at most once a minute)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or "\x00" in secret:
        return None
    token = _ACTIVE_TOKEN.first(parts[1])
    if token is None or not hmac.compare_digest(token.digest, _token_digest(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
