"""REST API: each endpoint as anonymous, as a user without permission, and as a permitted user."""

import pytest
from rest_framework.test import APIClient

from models_app import services
from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    Registry,
    StageTransition,
)
from tests.conftest import grant

BASE = "/api/v1"
MODEL = f"{BASE}/models/default/churn"


def client_for(user=None, token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    elif user:
        client.force_authenticate(user)
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def reader(outsider):
    return client_for(outsider)


@pytest.fixture
def api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn", metrics={"accuracy": 0.90}, tags={"team": "growth"})
    v2 = make_version("churn", metrics={"accuracy": 0.95})
    services.registration_update(
        registration=v1.registration, description="Churn", tags={"team": "growth"}, user=None
    )
    return v1, v2


def assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"status", "code", "detail", "errors"}
    assert body["status"] == status
    if code:
        assert body["code"] == code
    if field:
        assert field in body["errors"], body
    return body


# Authentication -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/registries/",
        "/flavors/",
        "/models/",
        "/models/default/churn/",
        "/models/default/churn/versions/",
        "/versions/",
        "/transitions/",
        "/tokens/",
    ],
)
def test_anonymous_requests_are_refused(anon, churn, path):
    response = anon.get(BASE + path)
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_token_authenticates(churn, outsider):
    _, secret = services.token_create(owner=outsider, user=None)
    assert client_for(token=secret).get(f"{BASE}/models/").status_code == 200
    drf_style = APIClient()
    drf_style.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert drf_style.get(f"{BASE}/models/").status_code == 200


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer mr_abc_def", "Bearer", "Token a b"])
def test_a_bad_token_is_refused(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get(f"{BASE}/models/"), 401)


def test_a_revoked_token_is_refused(db, outsider):
    token, secret = services.token_create(owner=outsider, user=None)
    services.token_revoke(token=token, user=outsider)
    assert_error(client_for(token=secret).get(f"{BASE}/models/"), 401)


def test_tokens_are_stored_only_as_digests(db, outsider):
    token, secret = services.token_create(owner=outsider, user=None)
    row = type(token).objects.filter(pk=token.pk).values().get()
    assert secret not in " ".join(str(v) for v in row.values())
    random_part = secret.split("_", 2)[2]  # may itself contain "_"
    assert len(random_part) >= 40
    assert random_part not in " ".join(str(v) for v in row.values())


def test_session_writes_need_csrf(churn, admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get(f"{BASE}/models/").status_code == 200
    assert_error(client.post(f"{BASE}/models/", {"name": "x"}, format="json"), 403)
    assert not ModelRegistration.objects.filter(name="x").exists()


# Registrations ------------------------------------------------------------------------
def test_list_registrations_with_latest_version_per_stage(reader, churn):
    services.version_transition_stage(version=churn[0], stage="Production", user=None)
    body = reader.get(f"{BASE}/models/").json()
    assert body["count"] == 1 and body["page_size"] == 50
    row = body["results"][0]
    assert row["name"] == "churn" and row["registry"] == "default"
    assert row["latest_version"] == 2 and row["version_count"] == 2
    assert row["latest_versions_by_stage"] == {
        "Production": 1,
        "Staging": None,
        "Archived": None,
        "None": 2,
    }


def test_create_registration(api, reader):
    assert_error(reader.post(f"{BASE}/models/", {"name": "fraud"}, format="json"), 403)
    response = api.post(
        f"{BASE}/models/", {"name": "fraud", "description": "d", "tags": {"a": "1"}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["tags"] == {"a": "1"}
    assert_error(api.post(f"{BASE}/models/", {"name": "fraud"}, format="json"), 409, "conflict")
    assert_error(
        api.post(f"{BASE}/models/", {"name": "a/b"}, format="json"), 400, "invalid", "name"
    )
    assert_error(
        api.post(f"{BASE}/models/", {"name": "x", "registry": "nowhere"}, format="json"), 404
    )
    assert_error(
        api.post(f"{BASE}/models/", {"name": "x", "tags": "nope"}, format="json"), 400, field="tags"
    )


def test_non_json_bodies_get_415(api):
    response = api.post(
        f"{BASE}/models/", "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415)
    assert_error(api.post(f"{BASE}/models/", "{not json", content_type="application/json"), 400)


def test_get_patch_delete_registration(api, reader, churn):
    assert reader.get(f"{MODEL}/").json()["description"] == "Churn"
    assert_error(reader.patch(f"{MODEL}/", {"description": "x"}, format="json"), 403)
    body = api.patch(
        f"{MODEL}/", {"description": "New", "tags": {"team": None, "owner": "al"}}, format="json"
    ).json()
    assert (body["description"], body["tags"]) == ("New", {"owner": "al"})
    body = api.patch(f"{MODEL}/", {"name": "churn-v2"}, format="json").json()
    assert body["name"] == "churn-v2"
    assert_error(reader.delete(f"{BASE}/models/default/churn-v2/"), 403)
    assert api.delete(f"{BASE}/models/default/churn-v2/").status_code == 204
    assert not ModelRegistration.objects.exists()
    assert_error(api.get(f"{MODEL}/"), 404, "not_found")


def test_names_are_url_encoded(api):
    response = api.post(
        f"{BASE}/models/default/my%20model%2Bx/versions/",
        {"model_source_uri": "s3://x"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["name"] == "my model+x"
    assert api.get(f"{BASE}/models/default/my%20model%2Bx/versions/1/").status_code == 200


# Versions -----------------------------------------------------------------------------
def test_register_a_version_with_lineage(api, reader, outsider):
    payload = {
        "model_source_uri": "s3://b/churn/3",
        "metrics": {"accuracy": 0.97},
        "parameters": {"lr": "0.1"},
        "tags": {"dataset": "w42"},
        "metadata": {"rows": 10},
        "pipeline_name": "train",
        "pipeline_run_id": "r1",
        "step_name": "fit",
        "experiment_run_id": "abc",
        "code_version": "9f1c",
        "model_format": "mlflow",
    }
    assert_error(reader.post(f"{MODEL}/versions/", payload, format="json"), 403)
    response = api.post(f"{MODEL}/versions/", payload, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1 and body["stage"] == "None" and body["created_by"] == "root"
    assert body["pipeline_name"] == "train" and body["metrics"] == {"accuracy": 0.97}
    assert ModelRegistration.objects.get().name == "churn"  # created for the new name
    engineer = client_for(grant(outsider, "add_modelversion"))
    assert engineer.post(f"{MODEL}/versions/", payload, format="json").json()["version"] == 2


def test_bad_version_input_is_a_400_per_field_and_writes_nothing(api):
    response = api.post(
        f"{MODEL}/versions/", {"model_source_uri": "", "metrics": {"a": "high"}}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert {"model_source_uri", "metrics"} <= set(body["errors"])
    assert not ModelRegistration.objects.exists()


def test_get_version_and_unknown_ones(reader, churn):
    assert reader.get(f"{MODEL}/versions/2/").json()["metrics"] == {"accuracy": 0.95}
    assert_error(reader.get(f"{MODEL}/versions/9/"), 404)
    assert_error(reader.get(f"{MODEL}/versions/abc/"), 400, field="version")
    assert_error(reader.get(f"{BASE}/models/default/ghost/versions/1/"), 404)
    assert_error(reader.get(f"{BASE}/nothing-here/"), 404)


def test_patch_version_merges_and_refuses_immutable_fields_and_stage(api, reader, churn):
    assert_error(reader.patch(f"{MODEL}/versions/1/", {"description": "x"}, format="json"), 403)
    body = api.patch(
        f"{MODEL}/versions/1/",
        {"description": "d", "metrics": {"f1": 0.5}, "tags": {"team": None}},
        format="json",
    ).json()
    assert body["metrics"] == {"accuracy": 0.9, "f1": 0.5} and body["tags"] == {}
    assert_error(
        api.patch(f"{MODEL}/versions/1/", {"model_source_uri": "s3://other"}, format="json"),
        400,
        field="model_source_uri",
    )
    assert_error(
        api.patch(f"{MODEL}/versions/1/", {"stage": "Production"}, format="json"),
        400,
        field="stage",
    )
    assert ModelVersion.objects.get(version=1).stage == "None"


def test_delete_version(api, reader, churn):
    assert_error(reader.delete(f"{MODEL}/versions/1/"), 403)
    assert api.delete(f"{MODEL}/versions/1/").status_code == 204
    assert list(ModelVersion.objects.values_list("version", flat=True)) == [2]


# Transitions --------------------------------------------------------------------------
def test_transition_is_the_way_to_change_a_stage(api, churn, outsider):
    services.version_transition_stage(version=churn[0], stage="Production", user=None)
    staging = client_for(grant(outsider, "change_modelversion"))
    # A contributor only asks for Production (202, the request), and cannot take v1 out of it.
    asked = staging.post(f"{MODEL}/versions/2/transition/", {"stage": "Production"}, format="json")
    assert asked.status_code == 202 and asked.json()["state"] == "pending"
    assert_error(
        staging.post(f"{MODEL}/versions/1/transition/", {"stage": "Archived"}, format="json"), 403
    )
    assert (
        staging.post(f"{MODEL}/versions/2/transition/", {"stage": "Staging"}, format="json").json()[
            "stage"
        ]
        == "Staging"
    )
    response = api.post(
        f"{MODEL}/versions/2/transition/",
        {"stage": "production", "archive_existing": True, "comment": "better"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["stage"] == "Production"
    assert ModelVersion.objects.get(version=1).stage == "Archived"
    auto = StageTransition.objects.get(version_number=1, to_stage="Archived")
    assert auto.cause == "archived_by_promotion" and auto.actor_name == "root"
    assert_error(
        api.post(f"{MODEL}/versions/2/transition/", {"stage": "Live"}, format="json"),
        400,
        field="stage",
    )
    assert_error(api.post(f"{MODEL}/versions/2/transition/", {}, format="json"), 400, field="stage")


def test_history_per_registration_and_per_version(api, reader, churn):
    api.post(f"{MODEL}/versions/1/transition/", {"stage": "Production"}, format="json")
    api.post(
        f"{MODEL}/versions/2/transition/",
        {"stage": "Production", "archive_existing": True},
        format="json",
    )
    rows = reader.get(f"{MODEL}/history/").json()["results"]
    assert [(r["version"], r["to_stage"]) for r in rows] == [
        (1, "Archived"),
        (2, "Production"),
        (1, "Production"),
    ]
    rows = reader.get(f"{MODEL}/versions/1/history/").json()["results"]
    assert [r["to_stage"] for r in rows] == ["Archived", "Production"]
    rows = reader.get(f"{BASE}/transitions/?to_stage=Archived").json()["results"]
    assert [(r["name"], r["cause"]) for r in rows] == [("churn", "archived_by_promotion")]


# Latest and aliases -------------------------------------------------------------------
def test_latest_by_stage_and_by_alias(api, reader, churn):
    api.post(f"{MODEL}/versions/1/transition/", {"stage": "Production"}, format="json")
    assert reader.get(f"{MODEL}/versions/latest/").json()["version"] == 2
    assert reader.get(f"{MODEL}/versions/latest/?stage=Production").json()["version"] == 1
    assert_error(reader.get(f"{MODEL}/versions/latest/?stage=Staging"), 404)
    assert_error(reader.get(f"{MODEL}/versions/latest/?stage=Live"), 400)
    api.put(f"{MODEL}/aliases/champion/", {"version": 1}, format="json")
    assert reader.get(f"{MODEL}/versions/latest/?alias=champion").json()["version"] == 1


def test_aliases_set_move_resolve_delete_and_conflict(api, reader, churn):
    assert_error(reader.put(f"{MODEL}/aliases/champion/", {"version": 1}, format="json"), 403)
    assert (
        api.post(
            f"{MODEL}/aliases/", {"alias": "champion", "version": 1}, format="json"
        ).status_code
        == 201
    )
    assert_error(
        api.post(f"{MODEL}/aliases/", {"alias": "champion", "version": 2}, format="json"),
        409,
        "conflict",
    )
    assert (
        api.put(f"{MODEL}/aliases/champion/", {"version": 2}, format="json").json()["version"] == 2
    )
    assert reader.get(f"{MODEL}/aliases/champion/").json()["version"] == 2
    assert [a["alias"] for a in reader.get(f"{MODEL}/aliases/").json()["results"]] == ["champion"]
    assert reader.get(f"{MODEL}/versions/2/").json()["aliases"] == ["champion"]
    assert_error(
        api.put(f"{MODEL}/aliases/latest/", {"version": 2}, format="json"), 400, field="alias"
    )
    assert_error(api.put(f"{MODEL}/aliases/x/", {"version": 9}, format="json"), 404)
    assert api.delete(f"{MODEL}/aliases/champion/").status_code == 204
    assert not ModelAlias.objects.exists()
    assert_error(api.delete(f"{MODEL}/aliases/champion/"), 404)


# Search and filters -------------------------------------------------------------------
@pytest.fixture
def catalogue(make_version):
    make_version(
        "fraud",
        metrics={"auc": 0.91},
        tags={"team": "risk"},
        pipeline_name="train_fraud",
        experiment_run_id="r1",
    )
    make_version("fraud", metrics={"auc": 0.85}, tags={"team": "risk"}, pipeline_name="train_fraud")
    churn = make_version("churn", metrics={"accuracy": 0.93, "auc": 0.7}, tags={"team": "growth"})
    services.registration_update(
        registration=churn.registration,
        tags={"team": "growth"},
        description="subscribers",
        user=None,
    )
    services.version_transition_stage(version=churn, stage="Production", user=None)
    services.alias_set(version=churn, alias="champion", user=None)


@pytest.mark.parametrize(
    "query,names",
    [
        ("", ["churn", "fraud"]),
        ("?q=subscr", ["churn"]),
        ("?name=fraud", ["fraud"]),
        ("?name_contains=RAU", ["fraud"]),
        ("?tag=team:growth", ["churn"]),
        ("?tag=team", ["churn"]),
        ("?stage=Production", ["churn"]),
        ("?alias=champion", ["churn"]),
        ("?registry=default", ["churn", "fraud"]),
        ("?ordering=-name", ["fraud", "churn"]),
    ],
)
def test_registration_filters(reader, catalogue, query, names):
    assert [r["name"] for r in reader.get(f"{BASE}/models/{query}").json()["results"]] == names


@pytest.mark.parametrize(
    "query,expected",
    [
        ("?metric=auc>=0.9", [("fraud", 1)]),
        ("?metric=auc>0.8&metric=auc<0.9", [("fraud", 2)]),
        ("?metric=accuracy=0.93", [("churn", 1)]),
        ("?metric=auc!=0.7", [("fraud", 2), ("fraud", 1)]),
        ("?tag=team:risk&ordering=version", [("fraud", 1), ("fraud", 2)]),
        ("?stage=Production", [("churn", 1)]),
        ("?alias=champion", [("churn", 1)]),
        ("?pipeline_name=train_fraud&run_id=r1", [("fraud", 1)]),
        ("?name=fraud&ordering=-created", [("fraud", 2), ("fraud", 1)]),
        ("?q=churn", [("churn", 1)]),
        ("?created_after=2999-01-01T00:00:00Z", []),
    ],
)
def test_version_search_filters(reader, catalogue, query, expected):
    rows = reader.get(f"{BASE}/versions/{query}").json()["results"]
    got = [(r["name"], r["version"]) for r in rows]
    assert sorted(got) == sorted(expected) if "ordering" not in query else got == expected


@pytest.mark.parametrize(
    "query,field",
    [
        ("?metric=accuracy", "metric"),
        ("?metric=auc>=high", "metric"),
        ("?tag=:x", "tag"),
        ("?stage=Live", "stage"),
        ("?created_after=yesterday", "created_after"),
        ("?ordering=password", "ordering"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(reader, catalogue, query, field):
    assert_error(reader.get(f"{BASE}/versions/{query}"), 400, field=field)


def test_page_size_is_capped_and_says_so(reader, registry):
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[{"name": f"m{i:04d}", "versions": []} for i in range(520)],
    )
    body = reader.get(f"{BASE}/models/?page_size=10000").json()
    assert body["page_size"] == 500 and len(body["results"]) == 500 and body["count"] == 520
    assert body["next"] is not None
    assert len(reader.get(f"{BASE}/models/?page=2&page_size=500").json()["results"]) == 20
    assert_error(reader.get(f"{BASE}/models/?page=99"), 404)


# Registries, flavors, tokens ----------------------------------------------------------
def test_registries_and_flavors(reader, churn):
    registries = reader.get(f"{BASE}/registries/").json()["results"]
    assert (
        registries[0]["name"] == "default" and "transition_stage" in registries[0]["capabilities"]
    )
    assert reader.get(f"{BASE}/registries/default/").json()["flavor"] == "builtin"
    assert_error(reader.get(f"{BASE}/registries/nowhere/"), 404)
    flavors = reader.get(f"{BASE}/flavors/").json()
    assert flavors[0]["name"] == "builtin"


def test_a_flavor_lacking_a_capability_answers_405(api, db):
    registry = services.registry_create(name="audit", flavor="no-delete", user=None)
    services.version_register(registry=registry, name="m", model_source_uri="s3://x", user=None)
    body = assert_error(api.delete(f"{BASE}/models/audit/m/versions/1/"), 405, "not_supported")
    assert "cannot delete version" in body["detail"]
    assert ModelVersion.objects.exists()


@pytest.mark.parametrize("flavor", [".x", "..a.B", "a..B", "models_app.flavors.", "1a.B"])
def test_a_flavor_that_is_not_a_module_path_is_a_field_error(api, flavor):
    response = api.post(f"{BASE}/registries/", {"name": "odd", "flavor": flavor}, format="json")
    assert_error(response, 400, field="flavor")
    assert not Registry.objects.filter(name="odd").exists()


def test_users_create_list_and_revoke_their_tokens(reader, outsider, django_user_model):
    created = reader.post(f"{BASE}/tokens/", {"name": "ci"}, format="json")
    assert created.status_code == 201
    secret = created.json()["token"]
    assert client_for(token=secret).get(f"{BASE}/me/").json()["username"] == "eve"
    listed = reader.get(f"{BASE}/tokens/").json()["results"]
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    other = django_user_model.objects.create_user("mallory", password="m-pass-123")
    assert_error(client_for(other).delete(f"{BASE}/tokens/{listed[0]['id']}/"), 404)
    assert reader.delete(f"{BASE}/tokens/{listed[0]['id']}/").status_code == 204
    assert_error(client_for(token=secret).get(f"{BASE}/me/"), 401)
    assert_error(reader.delete(f"{BASE}/tokens/99999999999999999999999/"), 404)


# Query counts -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/models/", "/versions/", "/transitions/", "/models/default/m0000/versions/"]
)
def test_list_endpoints_run_a_constant_number_of_queries(
    reader, registry, make_version, django_assert_max_num_queries, path
):
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {"name": "m0000", "versions": [{"model_source_uri": "s3://x", "stage": "Production"}]}
        ],
    )
    version = ModelVersion.objects.get()
    services.version_transition_stage(version=version, stage="Staging", user=None)
    services.alias_set(version=version, alias="a", user=None)
    with django_assert_max_num_queries(4):
        assert reader.get(f"{BASE}{path}").status_code == 200
    services.registrations_bulk_create(
        registry=registry,
        user=None,
        registrations=[
            {
                "name": f"m{i:04d}",
                "versions": [
                    {"model_source_uri": f"s3://{i}/{n}", "stage": "Archived"} for n in range(3)
                ],
            }
            for i in range(1, 100)
        ],
    )
    for v in ModelVersion.objects.filter(version=1)[:100]:
        services.alias_set(version=v, alias="champion", user=None)
        services.version_transition_stage(version=v, stage="Staging", user=None)
    with django_assert_max_num_queries(4):
        response = reader.get(f"{BASE}{path}?page_size=100")
    assert response.status_code == 200
    assert len(response.json()["results"]) >= (1 if "m0000" in path else 100)


def test_odd_time_zone_offsets_are_normalised_not_a_crash(reader, catalogue):
    """PostgreSQL refuses offsets beyond +-15:59; filters convert to UTC first."""
    response = reader.get(
        f"{BASE}/transitions/", {"created_before": "2038-01-27T00:29:59-22:56", "cause": "direct"}
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    assert_error(
        reader.get(f"{BASE}/versions/", {"created_after": "0001-01-01T00:00:00+10:00"}),
        400,
        field="created_after",
    )


def test_fast_serializers_match_their_declared_fields(catalogue):
    """The hand-written hot paths must say exactly what the declared (documented) fields say."""
    from rest_framework import serializers as drf

    from models_app import selectors
    from models_app.api.serializers import RegistrationSerializer, VersionSerializer

    for registration in selectors.registration_list().select_related("created_by"):
        fast = RegistrationSerializer(registration).data
        assert fast == drf.Serializer.to_representation(RegistrationSerializer(), registration)
    for version in selectors.version_list():
        fast = VersionSerializer(version).data
        assert fast == drf.Serializer.to_representation(VersionSerializer(), version)


@pytest.mark.parametrize(
    "path",
    [
        "/api/2.0/mlflow/registered-models/search?max_results=100",
        "/api/2.0/mlflow/model-versions/search?max_results=100",
    ],
)
def test_mlflow_compatible_searches_run_a_constant_number_of_queries(
    reader, registry, django_assert_max_num_queries, path
):
    def add(start, count):
        services.registrations_bulk_create(
            registry=registry,
            user=None,
            registrations=[
                {
                    "name": f"m{i:04d}",
                    "versions": [
                        {"model_source_uri": f"s3://{i}/{n}", "stage": stage}
                        for n, stage in enumerate(["Archived", "Production", "Staging"])
                    ],
                }
                for i in range(start, start + count)
            ],
        )

    add(0, 1)
    with django_assert_max_num_queries(6):
        assert reader.get(path).status_code == 200
    add(1, 99)
    for version in ModelVersion.objects.filter(stage="Production")[:50]:
        services.alias_set(version=version, alias="champion", user=None)
    with django_assert_max_num_queries(6):
        response = reader.get(path)
    body = response.json()
    rows = body.get("registered_models") or body.get("model_versions")
    assert len(rows) == 100
    if "registered_models" in body:
        assert {v["current_stage"] for v in rows[0]["latest_versions"]} == {
            "Archived",
            "Production",
            "Staging",
        }


@pytest.mark.parametrize(
    "body,field",
    [
        ('{"name": "x", "config": {"k": {"deep": "nul\\u0000here"}}}', "config"),
        ('{"name": "x", "config": {"k": "\\ud82a lone surrogate"}}', "config"),
        ('{"name": "bad\\ud82a"}', "name"),
    ],
)
def test_unstorable_text_is_a_400_not_a_crash(api, body, field):
    """Found by Schemathesis on PostgreSQL: NUL and unpaired surrogates cannot be stored."""
    response = api.post(f"{BASE}/registries/", body, content_type="application/json")
    assert_error(response, 400, field=field)


def test_a_percent_sign_in_a_bad_filter_is_a_400(reader, catalogue):
    """Found by Schemathesis: the filter's message must not be %-formatted with the input."""
    assert_error(reader.get(f"{BASE}/versions/", {"metric": "È%Ó"}), 400, field="metric")
    assert_error(reader.get(f"{BASE}/versions/", {"tag": ":%s"}), 400, field="tag")
