"""Concurrent writers: numbering and archive_existing under real parallel transactions.

Runs on both databases (SQLite serialises writers; PostgreSQL takes row locks).
"""

import threading

import pytest
from django.db import connections

from models_app import selectors, services
from models_app.models import ModelVersion, StageTransition

THREADS = 16


def run_in_threads(work, count=THREADS):
    barrier = threading.Barrier(count)
    errors = []

    def target(index):
        try:
            barrier.wait()
            work(index)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_registering_versions_get_one_to_sixteen():
    registry = selectors.registry_get()
    services.registration_create(registry=registry, name="race", user=None)

    def register(index):
        services.version_register(
            registry=registry, name="race", model_source_uri=f"s3://race/{index}", user=None
        )

    assert run_in_threads(register) == []
    numbers = sorted(ModelVersion.objects.values_list("version", flat=True))
    assert numbers == list(range(1, THREADS + 1))


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_registering_a_new_name_create_one_registration():
    registry = selectors.registry_get()

    def register(index):
        services.version_register(
            registry=registry, name="brand-new", model_source_uri=f"s3://new/{index}", user=None
        )

    assert run_in_threads(register) == []
    assert registry.registrations.count() == 1
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == list(
        range(1, THREADS + 1)
    )


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_promoting_with_archive_existing_leave_one_production_version():
    registry = selectors.registry_get()
    versions = [
        services.version_register(
            registry=registry, name="promo", model_source_uri=f"s3://p/{i}", user=None
        )
        for i in range(THREADS)
    ]

    def promote(index):
        services.version_transition_stage(
            version=versions[index], stage="Production", archive_existing=True, user=None
        )

    assert run_in_threads(promote) == []
    assert ModelVersion.objects.filter(stage="Production").count() == 1
    assert ModelVersion.objects.filter(stage="Archived").count() == THREADS - 1
    # One row per change: 16 promotions and 15 automatic archives.
    assert StageTransition.objects.filter(cause="direct").count() == THREADS
    assert StageTransition.objects.filter(cause="archived_by_promotion").count() == THREADS - 1
    # Replaying the history ends where the table is.
    final = {}
    for record in StageTransition.objects.order_by("created_at", "id"):
        final[record.version_number] = record.to_stage
    assert final == dict(ModelVersion.objects.values_list("version", "stage"))
    # Promotions were serialised: the last one recorded is the version left in Production.
    last = StageTransition.objects.filter(cause="direct").latest("created_at", "id")
    assert ModelVersion.objects.get(stage="Production").version == last.version_number
