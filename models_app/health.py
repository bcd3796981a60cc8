"""Is this process able to serve: `/healthz`, and 503 (not 500) while the database is down.

A load balancer or orchestrator polls `/healthz`; each check names what failed without
echoing connection details (hosts, users) to an anonymous caller, and logs the full error.
"""

import logging
import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import server_error as page_server_error

from models_app.api.errors import error_body

logger = logging.getLogger(__name__)

UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
DATABASE_DOWN = "The database is unavailable; try again shortly."


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def check_queue() -> str:
    """Reach the tasks backend that syncs are queued on (Redis, or the database's queue)."""
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_rq.RQBackend":
        import django_rq

        django_rq.get_connection("default").ping()
    elif backend == "django_tasks_db.DatabaseBackend":
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.exists()
    return "ok"


@never_cache
def healthz(request):
    checks, healthy = {}, True
    for name, check in (("database", check_database), ("queue", check_queue)):
        try:
            checks[name] = check()
        except Exception as exc:
            logger.warning("Health check %s failed: %r", name, exc)
            checks[name] = f"unreachable ({type(exc).__name__})"
            healthy = False
    checks["status"] = "ok" if healthy else "unavailable"
    return JsonResponse(checks, status=200 if healthy else 503)


def _is_mlflow_api(path: str) -> bool:
    return path.startswith(("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"))


def server_error(request):
    """Django's 500 handler: 503 while the database is down; each surface in its own shape."""
    exc = sys.exc_info()[1]
    if isinstance(exc, UNAVAILABLE_ERRORS):
        status, code, detail = 503, "unavailable", DATABASE_DOWN
    else:
        status, code, detail = 500, "server_error", "Internal server error."
    if _is_mlflow_api(request.path):
        mlflow_code = "TEMPORARILY_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
        response = JsonResponse({"error_code": mlflow_code, "message": detail}, status=status)
    elif request.path.startswith("/api/"):
        response = JsonResponse(error_body(status, code, detail), status=status)
    elif status == 503:
        # No template: the site's layout itself reads the database (the signed-in user).
        response = HttpResponse(
            f"<!doctype html><title>Unavailable</title><h1>Unavailable</h1><p>{DATABASE_DOWN}</p>",
            status=503,
        )
    else:
        return page_server_error(request)
    if status == 503:
        response["Retry-After"] = "30"
    return response
