"""`manage.py import_registry FILE`: load an export_registry file, all or nothing."""

from django.core.management.base import BaseCommand, CommandError

from models_app.services.backup import ImportRefused, registry_import


class Command(BaseCommand):
    help = (
        "Load a file written by export_registry into an empty registry (or, with --replace, "
        "in place of the current one). The whole file is checked before anything is written; "
        "a corrupt, truncated or foreign file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace the registries, models, versions, history and tokens that are here",
        )

    def handle(self, *args, file, replace, **options):
        try:
            with open(file, "rb") as stream:
                counts = registry_import(stream=stream, replace=replace)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.")
        except ImportRefused as exc:
            raise CommandError(f"Nothing imported: {exc}")
        summary = ", ".join(f"{count:,} {section}" for section, count in counts.items())
        self.stdout.write(f"Imported {summary}.")
