"""Fast paths answer exactly what the general paths answer, in fewer queries, and the search
filters are served by indexes where the database has them. Speed itself is measured by bench/."""

import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_app import services
from models_app.models import ModelVersion

from .test_api import BASE, assert_error, client_for

MLFLOW = "/api/2.0/mlflow"


@pytest.fixture
def reader(outsider):
    """Signed in with a real token, so the counts include authentication; already used once."""
    _, secret = services.token_create(owner=outsider, user=outsider)
    client = client_for(token=secret)
    assert client.get(f"{BASE}/me/").status_code == 200
    return client


@pytest.fixture
def catalogue_bulk(registry):
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {
                "name": f"m{i:03d}",
                "description": f"model number {i}",
                "tags": {"team": "risk" if i % 2 else "search"},
                "versions": [
                    {
                        "model_source_uri": f"s3://bucket/m{i:03d}/{n}",
                        "stage": "Production" if n == 2 else "None",
                        "tags": {"commit": f"c{i:03d}{n}"},
                    }
                    for n in range(1, 4)
                ],
                "aliases": {"champion": 2},
            }
            for i in range(20)
        ],
    )


def _queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize(
    "path,version,limit",
    [
        ("/models/default/m007/versions/3/", 3, 3),
        ("/models/default/m007/versions/latest/?stage=Production", 2, 3),
        ("/models/default/m007/versions/latest/", 3, 3),
        ("/models/default/m007/versions/latest/?alias=champion", 2, 3),
        ("/models/default/m007/aliases/champion/", 2, 3),
        ("/models/default/m007/", None, 2),
    ],
)
def test_single_gets_answer_as_lists_do_in_few_queries(
    reader, catalogue_bulk, path, version, limit
):
    # the token, the row (and its aliases); was 5 queries for a version, 3 for a model
    body, queries = _queries(reader, f"{BASE}{path}")
    assert len(queries) <= limit, queries
    if version is None:
        assert body == reader.get(f"{BASE}/models/", {"name": "m007"}).json()["results"][0]
    else:
        listed = reader.get(f"{BASE}/models/default/m007/versions/").json()["results"]
        assert body == next(row for row in listed if row["version"] == version)
        assert body["aliases"] == (["champion"] if version == 2 else [])


@pytest.mark.parametrize(
    "path,message",
    [
        ("/models/nope/m007/versions/3/", "Registry 'nope' does not exist."),
        ("/models/default/nope/versions/3/", "Model 'nope' does not exist in registry 'default'."),
        ("/models/default/m007/versions/9/", "Model 'm007' has no version 9."),
        (
            "/models/default/m007/versions/latest/?stage=Staging",
            "Model 'm007' has no version in stage Staging.",
        ),
        ("/models/default/m007/aliases/gone/", "Model 'm007' has no alias 'gone'."),
        ("/models/default/nope/", "Model 'nope' does not exist in registry 'default'."),
    ],
)
def test_single_gets_still_say_what_is_missing(reader, catalogue_bulk, path, message):
    response = reader.get(f"{BASE}{path}")
    assert_error(response, 404)
    assert response.json()["detail"] == message


def test_mlflow_single_gets_match_the_search_results_in_few_queries(reader, catalogue_bulk):
    body, queries = _queries(reader, f"{MLFLOW}/model-versions/get?name=m007&version=2")
    assert len(queries) <= 3, queries  # token, the version row, its aliases (was 6)
    searched = reader.get(f"{MLFLOW}/model-versions/search", {"filter": "name='m007'"}).json()
    listed = next(v for v in searched["model_versions"] if v["version"] == "2")
    # As MLflow's server: a single get carries the version's aliases, a search does not.
    assert body["model_version"]["aliases"] == ["champion"] and listed["aliases"] == []
    assert {**body["model_version"], "aliases": []} == listed

    body, queries = _queries(reader, f"{MLFLOW}/registered-models/get?name=m007")
    assert len(queries) <= 6, queries  # was 8
    searched = reader.get(f"{MLFLOW}/registered-models/search", {"filter": "name='m007'"}).json()[
        "registered_models"
    ]
    assert body["registered_model"] == searched[0]
    assert body["registered_model"]["aliases"] == [{"alias": "champion", "version": "2"}]


def test_mlflow_single_gets_keep_mlflow_errors(reader, catalogue_bulk):
    missing = reader.get(f"{MLFLOW}/model-versions/get?name=m007&version=9")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # as MLflow's server: a missing parameter is refused before anything is looked up
    nameless = reader.get(f"{MLFLOW}/model-versions/get?name=nope")
    assert nameless.status_code == 400 and "'version'" in nameless.json()["message"]
    assert reader.get(f"{MLFLOW}/registered-models/get?name=nope").status_code == 404


def test_token_use_is_written_at_most_once_a_minute(reader, catalogue_bulk):
    _, queries = _queries(reader, f"{BASE}/models/default/m007/versions/3/")
    assert not [q for q in queries if q.lstrip().upper().startswith("UPDATE")]


def _plan(queryset) -> str:
    """The plan when only bitmap scans are cheap: on these small tables the planner may
    otherwise walk a primary key, so an index shows up here only if it serves the filter."""
    switches = ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan")
    with connection.cursor() as cursor:
        for switch in switches:
            cursor.execute(f"SET {switch} = off")
        try:
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            for switch in switches:
                cursor.execute(f"SET {switch} = on")


def test_tag_filter_and_text_search_find_the_same_rows_and_use_indexes(reader, catalogue_bulk):
    by_tag = reader.get(f"{BASE}/versions/", {"tag": "commit:c0072"}).json()["results"]
    assert [(v["name"], v["version"]) for v in by_tag] == [("m007", 2)]
    models = reader.get(f"{BASE}/models/", {"tag": "team:risk"}).json()["results"]
    assert len(models) == 10 and all(m["tags"]["team"] == "risk" for m in models)
    mlflow = reader.get(
        f"{MLFLOW}/model-versions/search", {"filter": "tags.commit = 'c0072'"}
    ).json()["model_versions"]
    assert [(v["name"], v["version"]) for v in mlflow] == [("m007", "2")]
    by_text = reader.get(f"{BASE}/versions/", {"q": "M007"}).json()["results"]
    assert sorted(v["version"] for v in by_text) == [1, 2, 3]
    by_source = reader.get(f"{BASE}/versions/", {"q": "bucket/m01"}).json()["results"]
    assert len(by_source) == 30
    described = reader.get(f"{BASE}/models/", {"q": "NUMBER 7"}).json()["results"]
    assert [m["name"] for m in described] == ["m007"]

    from models_app.filters import VersionFilterSet

    # The filters alone, on the whole table: the live-rows join the trash adds lets the planner
    # start elsewhere on tables this small, which says nothing about the index serving them.
    rows = ModelVersion.all_objects.all()
    tagged = VersionFilterSet({"tag": ["commit:c0072"]}, queryset=rows).qs
    searched = VersionFilterSet({"q": "m007"}, queryset=rows).qs
    if connection.vendor == "postgresql":
        assert "version_tags_gin" in _plan(tagged)
        plan = _plan(searched)
        assert "registration_name_upper_trgm" in plan and "version_source_upper_trgm" in plan
    else:
        # SQLite has no index for a JSON value or a substring: these filters scan (bench/README)
        assert "json_extract" in str(tagged.query).lower() or "->>" in str(tagged.query)


def test_search_indexes_take_new_rows_at_once(db):
    """No GIN pending list on PostgreSQL: every search would read it in full (bench/README)."""
    names = importlib.import_module("models_app.migrations.0019_search_indexes_no_pending_list")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
                [list(names.INDEXES)],
            )
            options = dict(cursor.fetchall())
            assert sorted(options) == sorted(names.INDEXES)
            assert all("fastupdate=off" in (found or []) for found in options.values())
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            assert not {name for (name,) in cursor.fetchall()} & set(names.INDEXES)


def test_dashboard_production_list_walks_the_stage_index(reader, catalogue_bulk):
    from models_app import selectors

    recent = selectors.production_recent()[:15]
    rows = list(recent)
    assert rows and all(version.stage == "Production" for version in rows)
    updated = [version.updated_at for version in rows]
    assert updated == sorted(updated, reverse=True)
    if connection.vendor == "postgresql":
        # No table scan and no full sort: the order must come from an index, whatever the
        # planner thinks of tables this small.
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_sort = off")
            try:
                sql, params = recent.query.sql_with_params()
                cursor.execute(f"EXPLAIN {sql}", params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            finally:
                cursor.execute("SET enable_seqscan = on")
                cursor.execute("SET enable_sort = on")
        assert "version_stage_updated_idx" in plan
    else:
        sql, params = recent.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "version_stage_updated_idx" in plan
