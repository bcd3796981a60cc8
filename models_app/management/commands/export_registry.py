"""`manage.py export_registry FILE`: the whole registry as one versioned JSON file."""

import sys

from django.core.management.base import BaseCommand

from models_app.services.backup import registry_export


class Command(BaseCommand):
    help = (
        "Write registries, models, versions, stages, aliases, stage history and API tokens' "
        "metadata (never secrets) to FILE ('-' for standard output), streamed in bounded memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="where to write the export; '-' for standard output")

    def handle(self, *args, file, **options):
        def progress(section, count):
            self.stderr.write(f"\r{section}: {count:,}", ending="")

        if file == "-":
            counts = registry_export(out=sys.stdout)
        else:
            with open(file, "w", encoding="utf-8") as out:
                counts = registry_export(out=out, progress=progress if self.verbose else None)
        summary = ", ".join(f"{count:,} {section}" for section, count in counts.items())
        self.stderr.write(f"\rExported {summary}.")

    @property
    def verbose(self) -> bool:
        return self.stderr.isatty()
