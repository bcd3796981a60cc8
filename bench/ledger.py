"""The stage ledger ("what was in Production at T") on one model with a long history.

DATABASE_URL=sqlite:////tmp/ledger.sqlite3 python -m bench.ledger [--versions 2000] [--moves 10]

Builds (once per database) a model `ledger-bench` whose versions each went through `--moves`
stage changes, one hour apart in the order of their numbers, then times selectors.ledger_at
at moments early, in the middle and at the end of that history: median wall and CPU ms,
queries, and the answer (version, how many held the stage). Writes to the database it is
given: never point it at a shared one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import django

NAME = "ledger-bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = ("Staging", "Production", "Archived")


def build(versions: int, moves: int):
    from django.db import transaction

    from models_app.models import (
        ModelRegistration,
        ModelVersion,
        Registry,
        StageTransition,
        TransitionCause,
    )

    registry, _ = Registry.objects.get_or_create(name="default")
    found = ModelRegistration.all_objects.filter(registry=registry, name=NAME).first()
    if found is not None:
        return found
    with transaction.atomic():
        registration = ModelRegistration.objects.create(registry=registry, name=NAME)
        ModelRegistration.all_objects.filter(pk=registration.pk).update(created_at=START)
        registration.refresh_from_db()
        rows = [
            ModelVersion(
                registration=registration,
                version=number,
                model_source_uri=f"s3://bench/{number}",
                stage=STAGES[(moves - 1) % len(STAGES)] if moves else "None",
                created_at=START + timedelta(hours=number * moves),
            )
            for number in range(1, versions + 1)
        ]
        created = ModelVersion.objects.bulk_create(rows, batch_size=500)
        entries = []
        for version in created:
            stage = "None"
            for move in range(moves):
                to_stage = STAGES[move % len(STAGES)]
                entries.append(
                    StageTransition(
                        registration=registration,
                        version=version,
                        version_number=version.version,
                        from_stage=stage,
                        to_stage=to_stage,
                        cause=TransitionCause.DIRECT,
                    )
                )
                stage = to_stage
        StageTransition.objects.bulk_create(entries, batch_size=1000)
        # auto_now_add stamps now: give each entry its place on the calendar.
        ids = list(
            StageTransition.objects.filter(registration=registration)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for index, pk in enumerate(ids):
            number, move = divmod(index, moves)
            moment = START + timedelta(hours=(number + 1) * moves + move, minutes=30)
            StageTransition.objects.filter(pk=pk).update(created_at=moment)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return registration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=2000)
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from models_app import selectors

    registration = build(args.versions, args.moves)
    span = timedelta(hours=(args.versions + 1) * args.moves)
    results = {}
    for label, fraction in (("early", 0.05), ("middle", 0.5), ("end", 1.0)):
        at = START + span * fraction
        for stage in ("Production", "Staging"):
            timings, cpu = [], []
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                answer = selectors.ledger_at(registration=registration, at=at, stage=stage)
                timings.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            with CaptureQueriesContext(connection) as captured:
                selectors.ledger_at(registration=registration, at=at, stage=stage)
            results[f"{label} {stage}"] = {
                "ms": round(statistics.median(timings), 2),
                # this process only (on SQLite the database's work too): robust to the load
                "cpu_ms": round(statistics.median(cpu), 2),
                "queries": len(captured.captured_queries),
                "answer": [answer.version, len(answer.versions)],
            }
    print(json.dumps({"vendor": connection.vendor, **results}, indent=1))


if __name__ == "__main__":
    main()
