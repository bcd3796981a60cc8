"""One JSON error shape for the whole API: {"status", "code", "detail", "errors"}.

`errors` maps each bad field to its messages; it is empty when no field is to blame.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from models_app.exceptions import BackendError, CapabilityNotSupported, Conflict, NotFound

_REGISTRY_ERRORS = {
    NotFound: (status.HTTP_404_NOT_FOUND, "not_found"),
    Conflict: (status.HTTP_409_CONFLICT, "conflict"),
    CapabilityNotSupported: (status.HTTP_405_METHOD_NOT_ALLOWED, "not_supported"),
    BackendError: (status.HTTP_502_BAD_GATEWAY, "backend_error"),
}


def error_body(status_code: int, code: str, detail: str, errors: dict | None = None) -> dict:
    return {"status": status_code, "code": code, "detail": detail, "errors": errors or {}}


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {
            ("non_field_errors" if key == "__all__" else key): (
                [str(m) for m in value]
                if isinstance(value, list)
                else _field_errors(value) or [str(value)]
            )
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        errors = (
            _field_errors(exc.message_dict)
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
        first = next(iter(errors.values()))[0] if errors else "Invalid input."
        return Response(error_body(400, "invalid", first, errors), status=400)
    for cls, (status_code, code) in _REGISTRY_ERRORS.items():
        if isinstance(exc, cls):
            return Response(error_body(status_code, code, str(exc)), status=status_code)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        first = next(iter(errors.values()))[0] if errors else "Invalid input."
        response.data = error_body(response.status_code, "invalid", str(first), errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or "error"
        response.data = error_body(response.status_code, str(code), str(detail))
    return response


def api_not_found(request, exception=None):
    """404 for an unknown address under /api/, in the API's shape instead of an HTML page."""
    return JsonResponse(error_body(404, "not_found", "No such address in the API."), status=404)
