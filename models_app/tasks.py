"""Background work, run by a tasks worker (`manage.py tasks_worker`), never inside a request."""

from django.tasks import task

from models_app import services
from models_app.models import SyncRun


@task
def sync_registry_task(run_id: int) -> str:
    run = SyncRun.objects.select_related("registry").get(pk=run_id)
    # Permission was checked when the sync was requested; the worker acts for that user.
    services.registry_sync(registry=run.registry, user=None, run=run)
    run.refresh_from_db()
    return run.summary()


@task
def fetch_run_data_task(version_ids: list[int], attempt: int = 1) -> dict[str, int]:
    """Copy run metrics and parameters from the tracking server into these versions."""
    return services.run_data_fetch(version_ids=version_ids, attempt=attempt)


@task
def deliver_webhook_task(delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failed one queues the next attempt itself."""
    return services.webhook_deliver(delivery_id=delivery_id)
