"""Prepared reads: the ORM's query compiled once per connection, same rows as the queryset."""

from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler

from models_app import selectors, services
from models_app.api import mlflow as mlflow_api
from models_app.exceptions import NotFound
from models_app.models import ModelRegistration, ModelVersion, Registry
from models_app.prepared import PreparedRead

pytestmark = pytest.mark.django_db


def _versions(registry, name):
    return (
        ModelVersion.objects.select_related("registration__registry", "created_by")
        .filter(registration__registry__name=registry, registration__name=name)
        .order_by("version")
    )


BY_NUMBER = PreparedRead(lambda r, n, v: _versions(r, n).filter(version=v), str, str, int)
VALUES = PreparedRead(lambda r, n: _versions(r, n).values("version", "stage", "tags"), str, str)


@pytest.fixture
def registry(admin_user):
    for name in ("alpha", "beta"):
        for number in (1, 2):
            services.version_register(
                registry=Registry.objects.get(name="default"),
                name=name,
                model_source_uri=f"s3://b/{name}/{number}",
                tags={"n": str(number)},
                user=admin_user,
            )
    return "default"


def test_objects_equal_the_querysets_with_their_relations_loaded(
    registry, django_assert_num_queries
):
    for name in ("alpha", "beta"):
        for number in (1, 2):
            expected = _versions(registry, name).get(version=number)
            with django_assert_num_queries(1):
                (found,) = BY_NUMBER(registry, name, number)
                # select_related relations come with the row: no further query
                assert found.registration.registry.name == registry
                assert found.created_by.username == expected.created_by.username
            assert found.pk == expected.pk
            assert found.registration.name == name
            assert found.tags == {"n": str(number)}  # JSON decoded by the field's converter
            assert found.created_at == expected.created_at  # aware datetimes, as the ORM's
            assert not found._state.adding and found._state.db == "default"


def test_values_equal_the_querysets(registry):
    assert VALUES(registry, "beta") == list(
        _versions(registry, "beta").values("version", "stage", "tags")
    )
    assert VALUES(registry, "missing") == []


def test_compiled_once_per_connection_then_only_run(registry):
    read = PreparedRead(lambda r, n: _versions(r, n).values("version"), str, str)
    with mock.patch.object(
        SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql
    ) as compile:
        assert read(registry, "alpha") == [{"version": 1}, {"version": 2}]
        assert compile.call_count == 2  # with each of the two sets of markers
        assert read(registry, "beta") == [{"version": 1}, {"version": 2}]
        assert read(registry, "nothing") == []
        assert compile.call_count == 2  # the arguments changed, the SQL was reused
    assert read in connections["default"].__dict__["_prepared_reads"]


def test_arguments_must_be_plain_parameters_of_their_type(registry):
    contains = PreparedRead(
        lambda n: ModelVersion.objects.filter(registration__name__contains=n), str
    )
    with pytest.raises(ImproperlyConfigured):
        contains("alp")  # wrapped in % signs: not a parameter that can be swapped
    with pytest.raises(TypeError):
        BY_NUMBER(registry, "alpha", "1")
    with pytest.raises(TypeError):
        BY_NUMBER(registry, "alpha")


def test_version_find_reads_aliases_as_a_prefetch_would(
    registry, admin_user, django_assert_num_queries
):
    registration = selectors.registration_get(registry=registry, name="alpha")
    version = registration.versions.get(version=2)
    services.alias_set(alias="zeta", version=version, user=admin_user)
    services.alias_set(alias="champion", version=version, user=admin_user)
    with django_assert_num_queries(2):
        found = selectors.version_find(registry=registry, name="alpha", version=2)
        assert [a.name for a in found.aliases.all()] == ["champion", "zeta"]
        assert all(alias.version is found for alias in found.aliases.all())
    assert (
        selectors.version_find(registry=registry, name="alpha", version=1).aliases.all().count()
        == 0
    )


def test_version_find_leaves_out_the_trash(registry, admin_user):
    version = selectors.version_find(registry=registry, name="beta", version=2)
    services.version_delete(version=version, user=admin_user)
    with pytest.raises(Exception) as caught:
        selectors.version_find(registry=registry, name="beta", version=2)
    assert "has no version 2" in str(caught.value)


def _search(api, query: str) -> dict:
    response = api.get("/api/2.0/mlflow/model-versions/search?" + query)
    assert response.status_code == 200, response.content
    return response.json()


def test_mlflow_versions_of_one_model_answer_as_the_general_search(
    registry, admin_user, django_user_model, settings
):
    from urllib.parse import urlencode

    from rest_framework.test import APIClient

    alpha = selectors.registration_get(registry=registry, name="alpha")
    services.version_register(
        registry=alpha.registry,
        name="alpha",
        model_source_uri="s3://b/prompt",
        tags={"mlflow.prompt.is_prompt": "true"},  # searches leave prompts out
        user=admin_user,
    )
    services.version_delete(version=alpha.versions.get(version=1), user=admin_user)  # trashed
    api = APIClient()
    api.force_authenticate(admin_user)
    named = urlencode({"filter": "name='alpha'"})
    prepared = mlflow_api._VERSIONS_NAMED
    with mock.patch.object(mlflow_api, "_VERSIONS_NAMED", wraps=prepared) as used:
        fast = _search(api, named)  # the prepared path
        general = _search(api, named + "&max_results=10000")  # the queryset path
    assert used.call_count == 1
    assert fast == general
    assert [v["version"] for v in fast["model_versions"]] == ["2"]
    assert _search(api, urlencode({"filter": "name='nothing'"})) == {"model_versions": []}

    # A user who reads only what is granted: no fast path, nothing of a hidden model.
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    reader = django_user_model.objects.create_user("reader")
    api.force_authenticate(reader)
    assert _search(api, named) == {"model_versions": []}


@pytest.mark.parametrize("number", [0, -1, 2**31, 2**70, True, "x", "2" * 40])
def test_a_number_no_row_can_hold_is_a_missing_version(registry, number):
    registration = selectors.registration_get(registry=registry, name="alpha")
    with pytest.raises(NotFound):
        selectors.version_get(registration=registration, version=number)
    with pytest.raises(NotFound):
        selectors.version_find(registry=registry, name="alpha", version=number)
    assert (
        selectors.version_rows_at(registry=registry, name="alpha", version=number, fields=["pk"])
        == []
    )


def test_a_number_as_text_still_finds_its_version(registry):
    registration = selectors.registration_get(registry=registry, name="alpha")
    assert selectors.version_get(registration=registration, version="2").version == 2


def test_a_lookup_that_rewrites_its_argument_is_refused_or_exact(registry, admin_user):
    services.version_register(
        registry=Registry.objects.get(name="default"),
        name="aXb",
        model_source_uri="s3://b/x",
        user=admin_user,
    )
    read = PreparedRead(
        lambda name: ModelRegistration.objects.filter(name__iexact=name).values("name"), str
    )
    try:
        found = read("a_b")
    except ImproperlyConfigured:
        assert connections["default"].vendor == "sqlite"  # LIKE there escapes `_` and `%`
    else:  # UPPER(name) = UPPER(%s): the argument is passed as given
        assert found == list(ModelRegistration.objects.filter(name__iexact="a_b").values("name"))
        assert read("AXB") == [{"name": "aXb"}]


def test_a_clients_stage_list_grows_neither_the_prepared_reads_nor_the_query(registry, admin_user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin_user)
    known = len(selectors._LATEST_PER_STAGE)
    answers = []
    for repeats in (1, 7, 900):  # 900 OR-ed subqueries would pass SQLite's expression depth
        stages = ["staging"] * repeats + ["None", "Staging"]
        response = api.get(
            "/api/2.0/mlflow/registered-models/get-latest-versions",
            {"name": "alpha", "stages": stages},
        )
        assert response.status_code == 200, response.content
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert len(selectors._LATEST_PER_STAGE) <= known + 1
