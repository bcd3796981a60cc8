"""Who is calling the API: tokens in the `Authorization` header, basic auth, rate limits.

Tokens: `Bearer <token>` (what MLflow's client sends) or `Token <token>`.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from models_app import services
from models_app.models import ApiToken
from models_app.signin import lockout_message

SCHEMES = {b"bearer", b"token"}


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in SCHEMES:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header: expected '<scheme> <token>'.")
            )
        try:
            secret = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = services.token_authenticate(secret)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


class LockoutBasicAuthentication(authentication.BasicAuthentication):
    """HTTP basic auth whose failures count towards the sign-in lockout; locked out is 429."""

    def authenticate_credentials(self, userid, password, request=None):
        try:
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            if request is not None and getattr(request, "axes_locked_out", False):
                raise exceptions.Throttled(detail=lockout_message(request))
            raise


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """The API rate limit per token (per user for a browser session)."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None  # anonymous callers: AnonRateThrottle
        token = request.auth if isinstance(request.auth, ApiToken) else None
        ident = f"t{token.pk}" if token is not None else f"u{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
