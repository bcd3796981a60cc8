"""One JSON error shape for the whole API: {"status", "code", "detail", "errors"}.

`errors` maps each bad field to its messages; it is empty when no field is to blame.
"""

from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from models_app.exceptions import ErrorKind, ErrorReport, describe_error


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


def report_response(report: ErrorReport) -> Response:
    """A domain error in the API's shape: field errors only for invalid input."""
    status_code = report.kind.http_status
    errors = (
        {
            ("non_field_errors" if field == ErrorReport.NON_FIELD else field): messages
            for field, messages in report.errors.items()
        }
        if report.kind == ErrorKind.INVALID
        else {}
    )
    detail = report.first if report.kind == ErrorKind.INVALID else report.message
    return Response(error_body(status_code, report.kind.value, detail, errors), status=status_code)


def exception_handler(exc, context):
    report = describe_error(exc)
    if report is not None:
        return report_response(report)
    if isinstance(exc, Http404):
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
