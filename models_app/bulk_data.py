"""Synthetic registrations for `seed_bulk` and the benchmark (no Django imports, so the
benchmark can load the very same data into MLflow's own store)."""

from __future__ import annotations

import random
from collections.abc import Iterator

TEAMS = ("risk", "growth", "search", "vision")
TRAINERS = ("airflow", "zenml", "notebook")


def bulk_name(index: int) -> str:
    return f"bulk-model-{index:06d}"


def _stage(number: int, versions: int, production: int) -> str:
    if number == production:
        return "Production"
    if number == versions:
        return "Staging"
    return "Archived" if number < production else "None"


def bulk_items(start: int, count: int, versions: int, rng: random.Random) -> Iterator[dict]:
    """Registrations `start`..`start+count-1`: 2 tags each; versions with 3 tags, 3 metrics,
    lineage and a stage (one Production, the newest Staging, older ones Archived); the alias
    `champion` on the Production version and `challenger` on the Staging one."""
    for index in range(start, start + count):
        name = bulk_name(index)
        production = rng.randint(1, versions) if versions else 0
        items = []
        for number in range(1, versions + 1):
            commit = f"{rng.getrandbits(40):010x}"
            items.append(
                {
                    "model_source_uri": f"s3://bulk-artifacts/{name}/{number}/model",
                    "stage": _stage(number, versions, production),
                    "metrics": {
                        "accuracy": round(rng.uniform(0.6, 0.99), 4),
                        "f1": round(rng.uniform(0.5, 0.95), 4),
                        "loss": round(rng.uniform(0.05, 0.6), 4),
                    },
                    "parameters": {
                        "learning_rate": str(rng.choice([0.1, 0.01, 0.001])),
                        "max_depth": str(rng.randint(3, 12)),
                    },
                    "tags": {
                        "dataset": f"snapshot-{number}",
                        "git_commit": commit,
                        "trainer": rng.choice(TRAINERS),
                    },
                    "model_format": "mlflow",
                    "model_library": "sklearn",
                    "pipeline_name": "bulk_training",
                    "pipeline_run_id": f"run-{index}-{number}",
                    "step_name": "train",
                    "experiment_run_id": f"{index:06d}{number:04d}",
                    "code_version": commit,
                }
            )
        aliases = {}
        if production:
            aliases["champion"] = production
        if versions and versions != production:
            aliases["challenger"] = versions
        yield {
            "name": name,
            "description": f"Synthetic model {index} for load tests.",
            "tags": {"team": rng.choice(TEAMS), "bulk": "1"},
            "versions": items,
            "aliases": aliases,
        }
