"""Sign-in lockout (django-axes): failed sign-ins on the login page, the admin and HTTP basic
auth are counted per username and per address; a locked-out caller gets 429 in the shape of the
surface it called."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

MLFLOW_PATHS = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")


def client_address(request) -> str:
    """The caller's address: behind N trusted proxies, the Nth address from the right of
    X-Forwarded-For (the one our own proxy saw), as DRF's throttles count it; otherwise the
    peer. Entries further left are whatever the client wrote and are never trusted."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [address for address in forwarded if address]
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")


def lockout_message(request=None) -> str:
    minutes = max(1, round(get_cool_off(request).total_seconds() / 60))
    return (
        "Too many failed sign-in attempts for this account or from this address. "
        f"Try again in {minutes} minutes."
    )


class SignInLockoutBackend(AxesStandaloneBackend):
    """Refuses sign-ins while the username or the address is locked out.

    Code that authenticates without a request (a test client's login, a shell) is not a
    sign-in from the network and is not counted.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The 429 that django-axes sends for a locked-out sign-in, in the caller's shape."""
    from models_app.api.errors import error_body  # the API package imports this module

    message = lockout_message(request)
    if request.path.startswith(MLFLOW_PATHS):
        body = {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": message}
        return JsonResponse(body, status=429)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(429, "throttled", message), status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
