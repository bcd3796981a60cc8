"""Bounds on every request before any view parses it, answered in the surface's own shape."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponseBadRequest, JsonResponse

from models_app.api.errors import error_body

MLFLOW_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")


def limit_response(request, message: str):
    """A 400 naming the limit: MLflow's shape, the REST API's shape, or plain text for pages."""
    if request.path.startswith(MLFLOW_PREFIXES):
        return JsonResponse(
            {"error_code": "INVALID_PARAMETER_VALUE", "message": message}, status=400
        )
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(400, "invalid", message, {"non_field_errors": [message]}), status=400
        )
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _body_message() -> str:
    return (
        "The request body is too large: the limit is "
        f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (MODEL_REGISTRY_MAX_BODY_BYTES)."
    )


def _fields_message() -> str:
    return (
        "The request has too many fields: the limit is "
        f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} (MODEL_REGISTRY_MAX_FIELDS)."
    )


class InputLimitsMiddleware:
    """Refuse a body over MODEL_REGISTRY_MAX_BODY_BYTES by its declared length, before it is
    read (the REST framework reads bodies past Django's own check), and too many fields."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return limit_response(request, _body_message())
        try:
            request.GET  # noqa: B018 (parsed here so that a refusal has the surface's shape)
            if request.method == "POST" and not request.path.startswith("/api/"):
                request.POST  # noqa: B018 (forms: the same, before CSRF reads it)
        except RequestDataTooBig:
            return limit_response(request, _body_message())
        except TooManyFieldsSent:
            return limit_response(request, _fields_message())
        return self.get_response(request)
