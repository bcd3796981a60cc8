"""`manage.py seed_bulk`: many registrations and versions, fast, for benchmarks."""

import random

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from models_app import selectors, services
from models_app.models import ModelVersionStage

BATCH = 50


def bulk_items(start: int, count: int, versions: int, rng: random.Random) -> list[dict]:
    items = []
    for index in range(start, start + count):
        name = f"bulk-model-{index:06d}"
        production = rng.randint(1, versions) if versions else None
        items.append(
            {
                "name": name,
                "description": f"Synthetic model {index} for load tests.",
                "tags": {"team": rng.choice(["risk", "growth", "search", "vision"]), "bulk": "1"},
                "versions": [
                    {
                        "model_source_uri": f"s3://bulk-artifacts/{name}/{number}/model",
                        "stage": (
                            ModelVersionStage.PRODUCTION
                            if number == production
                            else ModelVersionStage.STAGING
                            if number == versions and number != production
                            else ModelVersionStage.ARCHIVED
                            if number < (production or 0)
                            else ModelVersionStage.NONE
                        ),
                        "metrics": {
                            "accuracy": round(rng.uniform(0.6, 0.99), 4),
                            "f1": round(rng.uniform(0.5, 0.95), 4),
                        },
                        "parameters": {
                            "learning_rate": str(rng.choice([0.1, 0.01, 0.001])),
                            "max_depth": str(rng.randint(3, 12)),
                        },
                        "tags": {"dataset": f"snapshot-{number}"},
                        "model_format": "mlflow",
                        "model_library": "sklearn",
                        "pipeline_name": "bulk_training",
                        "pipeline_run_id": f"run-{index}-{number}",
                        "step_name": "train",
                        "experiment_run_id": f"{index:06d}{number:04d}",
                        "code_version": f"{rng.getrandbits(40):010x}",
                    }
                    for number in range(1, versions + 1)
                ],
            }
        )
    return items


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
        registry = selectors.registry_get(options["registry"])
        start = registry.registrations.filter(name__startswith="bulk-model-").count()
        rng = random.Random(options["seed"])
        total = 0
        with tqdm(
            total=count * versions,
            unit="version",
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as progress:
            for offset in range(0, count, BATCH):
                batch = bulk_items(start + offset, min(BATCH, count - offset), versions, rng)
                added = services.registrations_bulk_create(
                    registry=registry, registrations=batch, user=None
                )
                total += added
                progress.update(added)
        self.stdout.write(
            f"Created {count} registrations with {total} versions in '{registry.name}'."
        )
