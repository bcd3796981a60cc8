"""What must never happen is also refused by the database, whatever code path writes."""

import pytest
from django.db import IntegrityError, transaction

from models_app.models import ModelAlias, ModelRegistration, ModelVersion


def test_database_refuses_a_duplicate_name_in_a_registry(registry):
    ModelRegistration.objects.create(registry=registry, name="m")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelRegistration.objects.create(registry=registry, name="m")


def test_database_refuses_a_duplicate_version_number(make_version):
    version = make_version()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            registration=version.registration, version=1, model_source_uri="s3://y"
        )


def test_database_refuses_version_zero(registry):
    registration = ModelRegistration.objects.create(registry=registry, name="m")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(registration=registration, version=0, model_source_uri="s3://y")


def test_database_refuses_an_unknown_stage(make_version):
    version = make_version()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(stage="Live")


def test_database_refuses_a_duplicate_alias_in_a_registration(make_version):
    version = make_version()
    ModelAlias.objects.create(registration=version.registration, name="champion", version=version)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelAlias.objects.create(
            registration=version.registration, name="champion", version=version
        )
