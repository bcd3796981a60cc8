"""Side by side: the same MLflow client calls against the dashboard and a real `mlflow server`.

Every registry call of the pinned client runs against both, and the answers are compared
field by field, in order, including error codes, HTTP statuses and messages. What differs on
purpose is normalised here and listed in the README ("Use it from MLflow and ZenML").
"""

import json
import re
import time

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models_app import services

pytestmark = pytest.mark.django_db(transaction=True)

# Deliberate differences (README): who registered a version is known to us, not to a plain
# MLflow server; times are each server's own clock.
UNCOMPARED = {"creation_timestamp", "last_updated_timestamp", "user_id"}


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("mlops", password="mlops-pass-123")


@pytest.fixture
def servers(live_server, mlflow_server, admin, monkeypatch):
    """(ours, theirs): MlflowClients on the dashboard and on the real server, both empty."""
    mlflow_server.wipe()
    _, token = services.token_create(owner=admin, user=None)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)  # a plain MLflow server ignores it
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    ours = MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)
    theirs = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    ours.base_url, theirs.base_url = live_server.url, mlflow_server.url
    ours.token = token
    theirs.token = None
    return ours, theirs


def plain(value):
    """An answer of the client as plain data, without what is not compared."""
    if isinstance(value, list) or hasattr(value, "token"):
        items = [plain(item) for item in value]
        return {"items": items, "token": value.token} if hasattr(value, "token") else items
    if hasattr(value, "to_proto"):
        from google.protobuf.json_format import MessageToDict

        body = MessageToDict(value.to_proto(), preserving_proto_field_name=True)
        return _drop(body)
    return value


def _drop(body):
    if isinstance(body, dict):
        return {k: _drop(v) for k, v in body.items() if k not in UNCOMPARED}
    if isinstance(body, list):
        return [_drop(v) for v in body]
    return body


def message(text: str) -> str:
    """An error message with the deliberate differences taken out (README lists them)."""
    # MLflow prints Python sets, whose order changes with each process's hash seed.
    text = re.sub(
        r"\{('[^{}]*')\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}", text
    )
    # A rename onto a taken name: MLflow appends its database driver's error text.
    return text.split(" Error: (", 1)[0]


def answer(call, client):
    """What one call answered: its result, or its error code and message."""
    try:
        return {"ok": plain(call(client))}
    except MlflowException as exc:
        return {"error": exc.error_code, "message": message(exc.message)}


def same(servers, *calls):
    """Run each call on both servers in turn; every answer must be the same."""
    ours, theirs = servers
    differences = []
    for index, call in enumerate(calls):
        mine, real = answer(call, ours), answer(call, theirs)
        if mine != real:
            differences.append(f"call {index}:\n  ours   {mine!r}\n  MLflow {real!r}")
        time.sleep(0.003)  # MLflow keeps milliseconds: keep writes in distinct ones
    assert not differences, "\n".join(differences)


def raw(client, method: str, path: str, body=None, params=None):
    headers = {"Content-Type": "application/json"}
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    response = requests.request(
        method,
        f"{client.base_url}/api/2.0/mlflow/{path}",
        headers=headers,
        params=params,
        data=json.dumps(body) if body is not None else None,
        timeout=20,
    )
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if isinstance(payload, dict) and "message" in payload:
        payload["message"] = message(payload["message"])
    return response.status_code, _drop(payload)


def seed(client):
    """Two models with versions made in an order that tells the orders apart."""
    client.create_registered_model("b-model", tags={"team": "x"}, description="B")
    client.create_registered_model("a-model", tags={"team": "y"})
    for name, run in (("b-model", "r1"), ("a-model", "r2"), ("b-model", "r3"), ("a-model", "r1")):
        time.sleep(0.003)
        client.create_model_version(name, f"s3://bucket/{name}/{run}", run_id=run, tags={"k": run})


def test_searches_answer_in_mlflows_orders(servers):
    same(
        servers,
        seed,
        lambda c: c.search_model_versions(),
        lambda c: c.search_model_versions(order_by=["name DESC"]),
        lambda c: c.search_model_versions(order_by=["version_number ASC"]),
        lambda c: c.search_model_versions(order_by=["creation_timestamp ASC"]),
        lambda c: c.search_model_versions(order_by=["last_updated_timestamp ASC", "name DESC"]),
        lambda c: c.update_model_version("b-model", "1", description="touched"),
        lambda c: c.search_model_versions(),
        lambda c: c.search_model_versions("run_id = 'r1'"),
        lambda c: c.search_model_versions("name = 'a-model'", max_results=1),
        lambda c: c.search_registered_models(),
        lambda c: c.search_registered_models(order_by=["name DESC"]),
        lambda c: c.search_registered_models(order_by=["timestamp ASC"]),
        lambda c: c.search_registered_models(order_by=["last_updated_timestamp DESC"]),
        lambda c: c.search_registered_models(max_results=1),
        lambda c: c.search_registered_models(
            max_results=1, page_token=c.search_registered_models(max_results=1).token
        ),
    )


def test_search_filters_and_their_refusals(servers):
    same(
        servers,
        seed,
        lambda c: c.search_registered_models("name LIKE 'a-%'"),
        lambda c: c.search_registered_models("name ILIKE 'B-%'"),
        lambda c: c.search_registered_models("tags.team = 'x'"),
        lambda c: c.search_registered_models("tags.team != 'x'"),
        lambda c: c.search_registered_models("tags.nope != 'x'"),
        lambda c: c.search_registered_models("name IN ('a-model', 'zz')"),
        lambda c: c.search_model_versions("version_number >= 2"),
        lambda c: c.search_model_versions("run_id IN ('r2', 'r3')"),
        lambda c: c.search_model_versions("source_path = 's3://bucket/a-model/r2'"),
        lambda c: c.search_model_versions("tags.k LIKE 'r%'"),
        lambda c: c.search_model_versions("tags.k != 'r1'"),
        lambda c: c.search_registered_models("colour = 'red'"),
        lambda c: c.search_registered_models("name > 'a'"),
        lambda c: c.search_registered_models("name = "),
        lambda c: c.search_registered_models(order_by=["creation_timestamp DESC"]),
        lambda c: c.search_registered_models(order_by=["colour"]),
        lambda c: c.search_model_versions("version_number = 'x'"),
        lambda c: c.search_model_versions("version_number LIKE '1'"),
        lambda c: c.search_model_versions("source_path IN ('a')"),
        lambda c: c.search_model_versions("run_id ~ 'x'"),
        lambda c: c.search_model_versions("tags.k > 'a'"),
        lambda c: c.search_model_versions(order_by=["colour DESC"]),
    )


def test_registered_model_calls(servers):
    same(
        servers,
        lambda c: c.create_registered_model("m", tags={"t": "1"}, description="d"),
        lambda c: c.get_registered_model("m"),
        lambda c: c.create_registered_model("m"),
        lambda c: c.create_registered_model("a/b"),
        lambda c: c.create_registered_model(""),
        lambda c: c.get_registered_model("ghost"),
        lambda c: c.update_registered_model("m", description="new"),
        lambda c: c.update_registered_model("ghost", description="new"),
        lambda c: c.set_registered_model_tag("m", "owner", "al"),
        lambda c: c.set_registered_model_tag("m", "../bad", "al"),
        lambda c: c.set_registered_model_tag("ghost", "owner", "al"),
        lambda c: c.delete_registered_model_tag("m", "t"),
        lambda c: c.delete_registered_model_tag("m", "never-there"),
        lambda c: c.delete_registered_model_tag("ghost", "t"),
        lambda c: c.get_registered_model("m"),
        lambda c: c.create_registered_model("other"),
        lambda c: c.rename_registered_model("m", "other"),
        lambda c: c.rename_registered_model("m", "a:b"),
        lambda c: c.rename_registered_model("ghost", "new"),
        lambda c: c.rename_registered_model("m", "renamed"),
        lambda c: c.get_registered_model("renamed"),
        lambda c: c.get_latest_versions("renamed"),
        lambda c: c.get_latest_versions("ghost"),
        lambda c: c.delete_registered_model("renamed"),
        lambda c: c.delete_registered_model("renamed"),
        lambda c: c.search_registered_models(),
    )


def test_model_version_calls(servers):
    same(
        servers,
        lambda c: c.create_registered_model("m"),
        lambda c: c.create_model_version("m", "s3://b/1", run_id="r1", description="one"),
        lambda c: c.create_model_version("m", "s3://b/2", tags={"a": "1"}, run_link="http://x/r"),
        lambda c: c.create_model_version("ghost", "s3://b/1"),
        lambda c: c.get_model_version("m", "1"),
        lambda c: c.get_model_version("m", "x"),
        lambda c: c.get_model_version("m", "9"),
        lambda c: c.get_model_version("ghost", "1"),
        lambda c: c.get_model_version("ghost", "x"),
        lambda c: c.update_model_version("m", "1", description="changed"),
        lambda c: c.update_model_version("m", "7", description="changed"),
        lambda c: c.set_model_version_tag("m", "1", "k", "v"),
        lambda c: c.set_model_version_tag("m", "x", "k", "v"),
        lambda c: c.set_model_version_tag("m", "7", "k", "v"),
        lambda c: c.delete_model_version_tag("m", "1", "k"),
        lambda c: c.delete_model_version_tag("m", "1", "never-there"),
        lambda c: c.delete_model_version_tag("m", "7", "k"),
        lambda c: c.transition_model_version_stage("m", "1", "Staging"),
        lambda c: c.transition_model_version_stage("m", "2", "production"),
        lambda c: c.transition_model_version_stage("m", "1", "Production", True),
        lambda c: c.transition_model_version_stage("m", "1", "Live"),
        lambda c: c.transition_model_version_stage("m", "7", "Staging"),
        lambda c: c.get_latest_versions("m"),
        lambda c: c.get_latest_versions("m", stages=["Production"]),
        lambda c: c.get_latest_versions("m", stages=["Nope"]),
        lambda c: c.get_model_version_download_uri("m", "1"),
        lambda c: c.get_model_version_download_uri("m", "7"),
        lambda c: c.delete_model_version("m", "2"),
        lambda c: c.delete_model_version("m", "2"),
        lambda c: c.get_registered_model("m"),
        lambda c: c.create_model_version("m", "s3://b/3"),
        lambda c: c.search_model_versions("name = 'm'"),
    )


def test_alias_calls(servers):
    same(
        servers,
        lambda c: c.create_registered_model("m"),
        lambda c: c.create_model_version("m", "s3://b/1"),
        lambda c: c.create_model_version("m", "s3://b/2"),
        lambda c: c.set_registered_model_alias("m", "champion", "1"),
        lambda c: c.set_registered_model_alias("m", "champion", "2"),
        lambda c: c.set_registered_model_alias("m", "latest", "1"),
        lambda c: c.set_registered_model_alias("m", "v3", "1"),
        lambda c: c.set_registered_model_alias("m", "bad alias", "1"),
        lambda c: c.set_registered_model_alias("m", "ok", "7"),
        lambda c: c.set_registered_model_alias("ghost", "ok", "1"),
        lambda c: c.get_model_version_by_alias("m", "champion"),
        lambda c: c.get_model_version_by_alias("m", "latest"),
        lambda c: c.get_model_version_by_alias("m", "nope"),
        lambda c: c.get_model_version_by_alias("ghost", "champion"),
        lambda c: c.get_registered_model("m"),
        lambda c: c.get_model_version("m", "2"),
        lambda c: c.search_model_versions("name = 'm'"),
        lambda c: c.get_latest_versions("m"),
        lambda c: c.delete_registered_model_alias("m", "champion"),
        lambda c: c.delete_registered_model_alias("m", "champion"),
        lambda c: c.delete_registered_model_alias("ghost", "champion"),
        lambda c: c.get_registered_model("m"),
    )


def test_copies_and_sources(servers):
    same(
        servers,
        lambda c: c.create_registered_model("m"),
        lambda c: c.create_model_version("m", "s3://b/1", run_id="r1", tags={"t": "1"}),
        lambda c: c.copy_model_version("models:/m/1", "copy"),
        lambda c: c.get_model_version_download_uri("copy", "1"),
        lambda c: c.copy_model_version("models:/copy/1", "copy2"),
        lambda c: c.get_model_version_download_uri("copy2", "1"),
        lambda c: c.set_registered_model_alias("m", "champion", "1"),
        lambda c: c.create_model_version("copy", "models:/m@champion"),
        lambda c: c.create_model_version("copy", "models:/m/1", run_id="other"),
        lambda c: c.create_model_version("copy", "models:/ghost/1"),
        lambda c: c.create_model_version("copy", "models:/m/9"),
        lambda c: c.create_model_version("m", "runs:/r1/model", run_id="r1"),
        lambda c: c.create_model_version("m", "runs:/r1/model", run_id="r2"),
        lambda c: c.create_model_version("m", "runs:/r1/model"),
        lambda c: c.search_model_versions("name = 'copy'"),
    )


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "registered-models/get", {}),
        ("GET", "registered-models/get", {"name": "ghost"}),
        ("POST", "registered-models/create", {}),
        ("POST", "registered-models/create", {"name": 5}),
        ("POST", "registered-models/create", {"name": "m"}),
        ("POST", "registered-models/rename", {"name": "m"}),
        ("PATCH", "registered-models/update", {"name": "ghost"}),
        ("DELETE", "registered-models/delete", {"name": "ghost"}),
        ("GET", "registered-models/search", {"max_results": "1001"}),
        ("POST", "registered-models/get-latest-versions", {"name": "ghost"}),
        ("POST", "registered-models/set-tag", {"name": "m"}),
        ("DELETE", "registered-models/delete-tag", {"name": "m", "key": "x"}),
        ("POST", "registered-models/alias", {"name": "m", "alias": "a"}),
        ("DELETE", "registered-models/alias", {"name": "m"}),
        ("GET", "registered-models/alias", {"name": "m", "alias": "a"}),
        ("POST", "model-versions/create", {"name": "m"}),
        ("POST", "model-versions/create", {"name": "m", "source": "s3://b/1", "run_id": 7}),
        ("GET", "model-versions/get", {"name": "m"}),
        ("GET", "model-versions/get", {"name": "m", "version": "one"}),
        ("PATCH", "model-versions/update", {"name": "m", "version": "1"}),
        ("DELETE", "model-versions/delete", {"name": "m", "version": "1"}),
        ("GET", "model-versions/search", {"max_results": "200001"}),
        ("POST", "model-versions/transition-stage", {"name": "m", "version": "1"}),
        ("GET", "model-versions/get-download-uri", {"name": "m", "version": "1"}),
        ("POST", "model-versions/set-tag", {"name": "m", "version": "1"}),
        ("DELETE", "model-versions/delete-tag", {"name": "m", "version": "1"}),
    ],
)
def test_raw_requests_get_mlflows_status_and_body(servers, method, path, body):
    """The wire itself: HTTP status and JSON body, for requests the client would not send."""
    ours, theirs = servers
    for client in servers:
        raw(client, "POST", "registered-models/create", {"name": "m"})
    params = body if method == "GET" else None
    data = None if method == "GET" else body
    assert raw(ours, method, path, data, params) == raw(theirs, method, path, data, params)


def test_declared_differences_are_what_the_readme_says(servers):
    """Where we answer differently on purpose (README): MLflow's 500s that its client would
    retry become 400s with the same words, and models refuse max_results below 1."""
    ours, theirs = servers
    for client in servers:
        raw(client, "POST", "registered-models/create", {"name": "m"})
        raw(client, "POST", "model-versions/create", {"name": "m", "source": "s3://b/1"})
    archive = {"name": "m", "version": "1", "stage": "Archived", "archive_existing_versions": True}
    mine = raw(ours, "POST", "model-versions/transition-stage", archive)
    real = raw(theirs, "POST", "model-versions/transition-stage", archive)
    assert (real[0], real[1]["error_code"]) == (500, "INTERNAL_ERROR")
    assert (mine[0], mine[1]["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert mine[1]["message"] == real[1]["message"]
    order = {"order_by": ["name ASC", "name DESC"]}
    mine = raw(ours, "GET", "model-versions/search", params=order)
    real = raw(theirs, "GET", "model-versions/search", params=order)
    assert (real[0], mine[0]) == (500, 400) and mine[1]["message"] == real[1]["message"]
    mine = raw(ours, "GET", "registered-models/search", params={"max_results": "0"})
    assert mine[0] == 400
    garbage = {"page_token": "garbage"}
    mine = raw(ours, "GET", "registered-models/search", params=garbage)
    real = raw(theirs, "GET", "registered-models/search", params=garbage)
    assert (
        (mine[0], mine[1]["error_code"])
        == (real[0], real[1]["error_code"])
        == (
            400,
            "INVALID_PARAMETER_VALUE",
        )
    )
    assert "page_token" in mine[1]["message"] and "page token" in real[1]["message"]
