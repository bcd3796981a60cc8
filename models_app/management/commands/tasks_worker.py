"""`manage.py tasks_worker`: run background tasks (registry syncs) from the configured queue."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

RQ_BACKEND = "django_tasks_rq.RQBackend"


class Command(BaseCommand):
    help = (
        "Run queued background tasks (registry syncs): from the database queue, or from Redis "
        "when TASKS_REDIS_URL is set. Run one or more beside the web processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(self, *args, **options):
        batch, verbosity = options["batch"], options["verbosity"]
        if settings.TASKS["default"]["BACKEND"] == RQ_BACKEND:
            # RQ runs each task in a forked child, so a sync's memory goes back when it ends.
            call_command(
                "rqworker",
                "default",
                job_class="django_tasks_rq.backend.Job",
                with_scheduler=True,
                burst=batch,
                verbosity=verbosity,
            )
        else:
            call_command(
                "db_worker",
                batch=batch,
                reload=False,
                startup_delay=not batch,
                verbosity=verbosity,
            )
