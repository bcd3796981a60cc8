"""Hostile input: every request below is refused with a 4xx in its surface's error shape,
quickly, and writes nothing. Each case was found by hand against an earlier version (a
request that hung a worker or answered 500)."""

import base64
import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from models_app import services
from models_app.models import ModelRegistration, ModelVersion

# Seconds; generous for a loaded machine. Each case used to take 30 s to minutes, or crash.
TIME_BOUND = 5.0
MLFLOW = "/api/2.0/mlflow"


@pytest.fixture(scope="module", autouse=True)
def mlflow_imported():
    """The MLflow API imports MLflow's search utilities on first use (seconds, once)."""
    import mlflow.utils.search_utils  # noqa: F401


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def churn(make_version):
    return make_version("churn", metrics={"accuracy": 0.9}, tags={"team": "growth"})


def timed(call, *args, **kwargs):
    start = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < TIME_BOUND, f"answered in {elapsed:.1f} s"
    return response


def assert_rest_error(response, status=400, mentions=""):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"status", "code", "detail", "errors"}, body
    assert body["status"] == status
    if mentions:
        assert mentions in json.dumps(body), body
    return body


def assert_mlflow_error(response, code="INVALID_PARAMETER_VALUE", mentions=""):
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["error_code"] == code, body
    # MLflow's server adds sqlstate and error_class; errors raised before the view have neither.
    assert set(body) - {"sqlstate", "error_class"} == {"error_code", "message"}
    if mentions:
        assert mentions.lower() in body["message"].lower(), body
    return body


def snapshot():
    return (
        list(ModelRegistration.objects.values_list("name", "tags")),
        list(ModelVersion.objects.values_list("pk", "tags", "metrics", "metadata")),
    )


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def page_token(offset) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


# Metric filter: a backtracking regex took 30 s on 3,000 spaces ----------------------------
REDOS_METRIC = "a>" + " " * 3000 + "!"


def test_it_refuses_a_backtracking_metric_condition_on_the_api_quickly(api, churn):
    response = timed(api.get, "/api/v1/versions/", {"metric": REDOS_METRIC})
    assert_rest_error(response, mentions="metric")


def test_it_refuses_a_backtracking_metric_condition_on_the_model_page_quickly(signed_in, churn):
    response = timed(signed_in.get, "/models/default/churn/", {"metric": REDOS_METRIC})
    assert response.status_code == 200
    assert b"MODEL_REGISTRY_MAX_FILTER_LENGTH" in response.content


@override_settings(MODEL_REGISTRY_MAX_FILTER_LENGTH=1_000_000)
def test_the_metric_parser_is_linear_even_without_the_length_limit(api, signed_in, churn):
    condition = "a>" + " " * 200_000 + "!"
    assert_rest_error(
        timed(api.get, "/api/v1/versions/", {"metric": condition}), mentions="not a metric"
    )
    response = timed(signed_in.get, "/models/default/churn/", {"metric": condition})
    assert b"is not a metric condition" in response.content


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("accuracy>=0.9", 1),
        ("  accuracy >= 0.95 ", 0),
        ("accuracy!=0.9", 0),
        ("accuracy==0.9", 1),
        ("accuracy<1", 1),
        ("f1 score>0", 0),
    ],
)
def test_it_still_parses_every_metric_operator(api, churn, condition, expected):
    response = api.get("/api/v1/versions/", {"metric": condition})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == expected


@pytest.mark.parametrize("condition", ["accuracy", ">0.9", "accuracy>", "a>=<1", "a!1", "a>1>2"])
def test_it_refuses_malformed_metric_conditions(api, churn, condition):
    assert_rest_error(api.get("/api/v1/versions/", {"metric": condition}), mentions="metric")


def test_it_refuses_a_filter_value_over_the_length_limit(api, churn):
    with override_settings(MODEL_REGISTRY_MAX_FILTER_LENGTH=100):
        response = timed(api.get, "/api/v1/versions/", {"metric": "accuracy>" + "1" * 200})
        assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_LENGTH")
        response = timed(api.get, "/api/v1/models/", {"q": "x" * 101})
        assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_LENGTH")


def test_it_refuses_too_many_repeated_filter_conditions(api, churn):
    with override_settings(MODEL_REGISTRY_MAX_FILTER_TERMS=5):
        response = timed(api.get, "/api/v1/versions/", {"metric": ["accuracy>0"] * 6})
        assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_TERMS")
        response = timed(api.get, "/api/v1/models/", {"tag": ["team"] * 6})
        assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_TERMS")


# MLflow LIKE on SQLite went through Python's backtracking regex --------------------------
def test_it_matches_a_pathological_like_pattern_in_linear_time(api, make_version):
    make_version("a" * 200)
    for path, filter_string in [
        ("registered-models/search", "name LIKE '%%%%%%%!'"),
        ("registered-models/search", "name ILIKE '%a%a%a%a%a%a%!'"),
        ("model-versions/search", "name LIKE '%%%%%%%!'"),
        ("registered-models/search", "tags.team LIKE '%%%%%%%!'"),
    ]:
        response = timed(api.get, f"{MLFLOW}/{path}", {"filter": filter_string})
        assert response.status_code == 200, response.content
        assert not response.json().get("registered_models") and not response.json().get(
            "model_versions"
        )


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ("Churn%", []),  # LIKE is case-sensitive, as in MLflow
        ("churn%", ["churn", "churn_v2", "churn*x", "churnXv2"]),
        ("churn_v2", ["churn_v2", "churnXv2"]),  # `_` is any one character
        ("churn*x", ["churn*x"]),  # glob characters are plain text in LIKE
        ("%[a]%", ["fraud[a]"]),
        ("%\\d%", ["back\\d"]),  # a backslash is plain text
        ("%", ["back\\d", "churn", "churn*x", "churnXv2", "churn_v2", "fraud[a]"]),
    ],
)
def test_like_keeps_mlflow_semantics(api, make_version, pattern, matches):
    for name in ["churn", "churn_v2", "churnXv2", "churn*x", "fraud[a]", "back\\d"]:
        make_version(name)
    response = api.get(f"{MLFLOW}/registered-models/search", {"filter": f"name LIKE '{pattern}'"})
    assert response.status_code == 200, response.content
    names = sorted(m["name"] for m in response.json().get("registered_models", []))
    assert names == sorted(matches)


def test_ilike_ignores_case(api, make_version):
    make_version("Churn-Model")
    make_version("fraud", tags={"team": "Growth"})
    found = api.get(f"{MLFLOW}/registered-models/search", {"filter": "name ILIKE 'churn-%'"})
    assert [m["name"] for m in found.json()["registered_models"]] == ["Churn-Model"]
    found = api.get(
        f"{MLFLOW}/model-versions/search", {"filter": "tags.team ILIKE 'growth'"}
    ).json()["model_versions"]
    assert [v["name"] for v in found] == ["fraud"]


def test_it_refuses_a_like_pattern_with_too_many_wildcards(api, churn):
    with override_settings(MODEL_REGISTRY_MAX_FILTER_WILDCARDS=5):
        for path in ("registered-models/search", "model-versions/search"):
            response = timed(
                api.get, f"{MLFLOW}/{path}", {"filter": "name LIKE '" + "%a" * 6 + "'"}
            )
            assert_mlflow_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_WILDCARDS")


def test_it_refuses_an_mlflow_filter_over_the_length_limit(api, churn):
    with override_settings(MODEL_REGISTRY_MAX_FILTER_LENGTH=100):
        response = timed(
            api.get, f"{MLFLOW}/registered-models/search", {"filter": f"name = '{'a' * 200}'"}
        )
        assert_mlflow_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_LENGTH")


# Requests that answered 500 ---------------------------------------------------------------
@pytest.mark.parametrize("depth", [1000, 30])
def test_it_refuses_deeply_nested_metadata(api, churn, depth):
    before = snapshot()
    body = {"model_source_uri": "s3://b/m", "metadata": nested(depth)}
    response = timed(
        api.post,
        "/api/v1/models/default/churn/versions/",
        json.dumps(body),
        content_type="application/json",
    )
    assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_DEPTH")
    assert snapshot() == before


def test_it_refuses_deeply_nested_json_on_the_mlflow_api(api, churn):
    before = snapshot()
    body = {"name": "deep", "description": "", "tags": [], "extra": nested(1000)}
    response = timed(
        api.post,
        f"{MLFLOW}/registered-models/create",
        json.dumps(body),
        content_type="application/json",
    )
    assert_mlflow_error(response, mentions="MODEL_REGISTRY_MAX_DEPTH")
    assert snapshot() == before


@pytest.mark.parametrize(
    "token",
    [
        page_token(10**30),
        page_token(-5),
        page_token(1.5),
        page_token(None),
        page_token([1]),
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b"[" * 5000 + b"]" * 5000).decode(),
        "not base64!",
    ],
)
@pytest.mark.parametrize("path", ["registered-models/search", "model-versions/search"])
def test_it_refuses_a_bad_page_token(api, churn, token, path):
    response = timed(api.get, f"{MLFLOW}/{path}", {"page_token": token})
    assert_mlflow_error(response, mentions="page_token")


def test_a_page_token_still_pages(api, make_version):
    for n in range(3):
        make_version(f"m{n}")
    first = api.get(f"{MLFLOW}/registered-models/search", {"max_results": 2}).json()
    second = api.get(
        f"{MLFLOW}/registered-models/search",
        {"max_results": 2, "page_token": first["next_page_token"]},
    ).json()
    assert [m["name"] for m in first["registered_models"] + second["registered_models"]] == [
        "m0",
        "m1",
        "m2",
    ]


@pytest.mark.parametrize(
    "filter_string",
    ["name = 'a\x00b'", "name LIKE 'a\x00%'", "tags.team = 'a\x00b'", "tags.`a\x00b` = 'x'"],
)
@pytest.mark.parametrize("path", ["registered-models/search", "model-versions/search"])
def test_it_refuses_nul_in_an_mlflow_filter(api, churn, path, filter_string):
    response = timed(api.get, f"{MLFLOW}/{path}", {"filter": filter_string})
    assert_mlflow_error(response, mentions="NUL")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("registered-models/create", {"name": "m", "tags": "team=growth"}),
        ("registered-models/create", {"name": "m", "tags": ["team"]}),
        ("registered-models/create", {"name": "m", "tags": {"team": "growth"}}),
        ("registered-models/create", {"name": "m", "tags": [{"value": "no key"}]}),
        ("registered-models/create", {"name": "m", "tags": [{"key": {"a": 1}, "value": "x"}]}),
        ("model-versions/create", {"name": "churn", "source": "s3://b/m", "tags": {"a": "b"}}),
        ("model-versions/create", {"name": "churn", "source": "s3://b/m", "tags": "a"}),
        ("model-versions/create", {"name": "churn", "source": "s3://b/m", "tags": [["a", "b"]]}),
    ],
)
def test_it_refuses_tags_of_the_wrong_shape_on_the_mlflow_api(api, churn, path, body):
    before = snapshot()
    response = timed(
        api.post, f"{MLFLOW}/{path}", json.dumps(body), content_type="application/json"
    )
    assert_mlflow_error(response, mentions="tags")
    assert snapshot() == before


# Counts and sizes --------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["tags", "metrics", "parameters", "metadata"])
def test_it_refuses_100000_keys_in_one_request(api, churn, field):
    before = snapshot()
    values = {f"k{n}": 1 for n in range(100_000)}
    body = {"model_source_uri": "s3://b/m", field: values}
    response = timed(
        api.post,
        "/api/v1/models/default/churn/versions/",
        json.dumps(body),
        content_type="application/json",
    )
    assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_KEYS")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("count", "limit"),
    [(100_000, "MODEL_REGISTRY_MAX_BODY_BYTES"), (2000, "MODEL_REGISTRY_MAX_KEYS")],
)
def test_it_refuses_too_many_tags_on_the_mlflow_api(api, churn, count, limit):
    before = snapshot()
    tags = [{"key": f"k{n}", "value": "value"} for n in range(count)]
    for path, body in [
        ("registered-models/create", {"name": "many", "tags": tags}),
        ("model-versions/create", {"name": "churn", "source": "s3://b/m", "tags": tags}),
    ]:
        response = timed(
            api.post, f"{MLFLOW}/{path}", json.dumps(body), content_type="application/json"
        )
        assert_mlflow_error(response, mentions=limit)
    assert snapshot() == before


@override_settings(MODEL_REGISTRY_MAX_KEYS=3)
def test_merging_tags_may_not_grow_past_the_limit(api, churn):
    url = "/api/v1/models/default/churn/versions/1/"
    assert api.patch(url, {"tags": {"a": "1", "b": "2"}}, format="json").status_code == 200
    before = snapshot()
    response = api.patch(url, {"tags": {"c": "3"}}, format="json")
    assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_KEYS")
    assert snapshot() == before
    # Replacing and removing keys within the limit still works.
    assert api.patch(url, {"tags": {"team": None, "c": "3"}}, format="json").status_code == 200
    mlflow = api.post(
        f"{MLFLOW}/model-versions/set-tag",
        {"name": "churn", "version": "1", "key": "d", "value": "4"},
        format="json",
    )
    assert_mlflow_error(mlflow, mentions="MODEL_REGISTRY_MAX_KEYS")


@override_settings(MODEL_REGISTRY_MAX_KEY_LENGTH=10, MODEL_REGISTRY_MAX_VALUE_LENGTH=20)
@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("tags", {"k" * 11: "v"}, "MODEL_REGISTRY_MAX_KEY_LENGTH"),
        ("tags", {"k": "v" * 21}, "MODEL_REGISTRY_MAX_VALUE_LENGTH"),
        ("parameters", {"k": "v" * 21}, "MODEL_REGISTRY_MAX_VALUE_LENGTH"),
        ("metrics", {"k" * 11: 1}, "MODEL_REGISTRY_MAX_KEY_LENGTH"),
        ("metadata", {"k": {"k" * 11: 1}}, "MODEL_REGISTRY_MAX_KEY_LENGTH"),
        ("metadata", {"k": ["v" * 21]}, "MODEL_REGISTRY_MAX_VALUE_LENGTH"),
    ],
)
def test_it_refuses_keys_and_values_over_their_length(api, churn, field, value, limit):
    before = snapshot()
    response = api.post(
        "/api/v1/models/default/churn/versions/",
        {"model_source_uri": "s3://b/m", field: value},
        format="json",
    )
    assert_rest_error(response, mentions=limit)
    assert snapshot() == before


@override_settings(MODEL_REGISTRY_MAX_KEYS=2)
def test_the_limits_hold_on_every_surface(signed_in, churn):
    """Services, pages and the CLI share the service's checks (REST and MLflow: above)."""
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="MODEL_REGISTRY_MAX_KEYS"):
        services.version_register(
            registry=churn.registration.registry,
            name="churn",
            model_source_uri="s3://b/m",
            metadata={"a": [1, 2, 3]},
            user=None,
        )
    before = snapshot()
    response = signed_in.post(
        "/models/register/",
        {
            "registry": "default",
            "name": "churn",
            "model_source_uri": "s3://b/m",
            "tags": "a=1\nb=2\nc=3",
        },
    )
    assert response.status_code == 200
    assert b"MODEL_REGISTRY_MAX_KEYS" in response.content
    with pytest.raises(CommandError, match="MODEL_REGISTRY_MAX_KEYS"):
        call_command(
            "model_registry",
            "models",
            "register",
            "cli-model",
            *["-t", "a", "1", "-t", "b", "2", "-t", "c", "3"],
        )
    assert snapshot() == before


# Body size ---------------------------------------------------------------------------------
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
@pytest.mark.parametrize("prefix", [MLFLOW, "/ajax-api/2.0/mlflow"])
def test_it_refuses_a_body_over_the_limit_in_mlflow_shape(api, churn, prefix):
    body = json.dumps({"name": "big", "description": "x" * 20_000})
    response = timed(
        api.post, f"{prefix}/registered-models/create", body, content_type="application/json"
    )
    assert_mlflow_error(response, mentions="MODEL_REGISTRY_MAX_BODY_BYTES")
    assert not ModelRegistration.objects.filter(name="big").exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_it_refuses_a_body_over_the_limit_in_the_rest_shape(api, churn):
    body = json.dumps({"name": "big", "description": "x" * 20_000})
    response = timed(api.post, "/api/v1/models/", body, content_type="application/json")
    assert_rest_error(response, mentions="MODEL_REGISTRY_MAX_BODY_BYTES")
    assert not ModelRegistration.objects.filter(name="big").exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_it_refuses_a_form_over_the_limit_on_the_pages(signed_in, churn):
    response = signed_in.post(
        "/models/register/",
        {
            "registry": "default",
            "name": "big",
            "model_source_uri": "s3://b/m",
            "tags": "a" * 20_000,
        },
    )
    assert response.status_code == 400
    assert b"MODEL_REGISTRY_MAX_BODY_BYTES" in response.content
    assert not ModelRegistration.objects.filter(name="big").exists()


def test_it_refuses_too_many_query_parameters_in_the_api_shape(api, churn):
    query = "&".join(f"p{n}=1" for n in range(2000))
    assert_rest_error(timed(api.get, f"/api/v1/versions/?{query}"))
    assert_mlflow_error(timed(api.get, f"{MLFLOW}/registered-models/search?{query}"))


@pytest.mark.parametrize("depth", [5000, 30])
def test_the_admin_refuses_deeply_nested_json(signed_in, churn, depth):
    before = snapshot()
    response = timed(
        signed_in.post,
        f"/admin/models_app/modelversion/{churn.pk}/change/",
        {
            "description": "",
            "tags": "{}",
            "metrics": "{}",
            "metadata": json.dumps(nested(depth)) if depth < 900 else "[" * depth + "]" * depth,
        },
    )
    assert response.status_code == 200
    assert b"MODEL_REGISTRY_MAX_DEPTH" in response.content
    assert snapshot() == before


@override_settings(MODEL_REGISTRY_MAX_FILTER_TERMS=3, MODEL_REGISTRY_MAX_FILTER_LENGTH=50)
@pytest.mark.parametrize(
    ("order_by", "limit"),
    [
        (["name"] * 4, "MODEL_REGISTRY_MAX_FILTER_TERMS"),
        (["name " + " " * 60 + "ASC"], "MODEL_REGISTRY_MAX_FILTER_LENGTH"),
    ],
)
def test_it_bounds_mlflow_order_by(api, churn, order_by, limit):
    response = timed(api.get, f"{MLFLOW}/registered-models/search", {"order_by": order_by})
    assert_mlflow_error(response, mentions=limit)
    filter_string = " AND ".join(["name = 'churn'"] * 4)
    response = timed(api.get, f"{MLFLOW}/model-versions/search", {"filter": filter_string})
    assert_mlflow_error(response, mentions="MODEL_REGISTRY_MAX_FILTER_")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "registered-models/get-latest-versions", {"name": "\ud800"}),
        ("post", "registered-models/alias", {"name": "\ud800", "alias": "a", "version": "1"}),
        (
            "post",
            "model-versions/transition-stage",
            {"name": "\ud800", "version": "1", "stage": "Staging"},
        ),
        (
            "patch",
            "model-versions/update",
            {"name": "churn", "version": "1", "description": "\udfff"},
        ),
        (
            "post",
            "model-versions/set-tag",
            {"name": "churn", "version": "1", "key": "k", "value": "\ud800"},
        ),
        ("patch", "registered-models/update", {"name": "churn", "description": "\ud800"}),
    ],
)
def test_it_refuses_an_unpaired_surrogate_in_an_mlflow_body(api, churn, method, path, body):
    before = snapshot()
    response = timed(
        getattr(api, method),
        f"{MLFLOW}/{path}",
        json.dumps(body),  # escapes the surrogate: valid JSON that no database stores
        content_type="application/json",
    )
    assert_mlflow_error(response, mentions="surrogates")
    assert snapshot() == before
