"""`manage.py seed_bulk`: many registrations and versions, fast, for benchmarks."""

import random
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from models_app import selectors, services
from models_app.bulk_data import bulk_items
from models_app.exceptions import DOMAIN_ERRORS, describe_error

# Versions per transaction: memory stays bounded by one batch, whatever the total.
BATCH_VERSIONS = 2000


class Command(BaseCommand):
    help = "Create N registrations with M versions each, with bulk inserts (for benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--registrations", type=int, default=1000)
        parser.add_argument("--versions", type=int, default=20)
        parser.add_argument("--registry", default=None)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        count, versions = options["registrations"], options["versions"]
        if count < 1 or versions < 0:
            raise CommandError("--registrations must be at least 1 and --versions at least 0.")
        try:
            registry = selectors.registry_get(options["registry"])
        except DOMAIN_ERRORS as exc:
            raise CommandError(describe_error(exc).line())
        start = registry.registrations.filter(name__startswith="bulk-model-").count()
        items = bulk_items(start, count, versions, random.Random(options["seed"]))
        batch = max(1, BATCH_VERSIONS // max(versions, 1))
        total = 0
        with tqdm(
            total=count * versions,
            unit="version",
            unit_scale=True,
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as progress:
            while chunk := list(islice(items, batch)):
                added = services.registrations_bulk_create(
                    registry=registry, registrations=chunk, user=None
                )
                total += added
                progress.update(added)
        if connection.vendor == "postgresql":
            # Fresh statistics: planned on the empty tables' numbers, a list page can take
            # seconds (JIT compiling a plan whose cost is wildly over-estimated).
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE models_app_modelregistration, models_app_modelversion, "
                    "models_app_modelalias"
                )
        self.stdout.write(
            f"Created {count} registrations with {total} versions in '{registry.name}'."
        )
