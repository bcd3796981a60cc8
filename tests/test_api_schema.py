"""The OpenAPI schema is true: Schemathesis drives every operation in-process and checks that
no request gets a 5xx and that every status, content type and body is the one declared."""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from models_app import services
from registry_site.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# CI generates the same cases on every run (derandomized). A longer random hunt (README,
# "Tests"): SCHEMATHESIS_RANDOM=1 SCHEMATHESIS_MAX_EXAMPLES=1000 on this file; replay a
# failure with the seed Hypothesis prints: --hypothesis-seed=<seed>.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50"))
RANDOM = os.environ.get("SCHEMATHESIS_RANDOM", "") not in ("", "0")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def token(db, django_user_model, make_version):
    """A superuser's token, and a registration named like the ones Schemathesis may ask for."""
    # The WSGI handler would close the test's connection (and its transaction) after each call.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    admin = django_user_model.objects.create_superuser("schema", password="schema-pass-123")
    version = make_version("churn", metrics={"accuracy": 0.9})
    services.version_transition_stage(version=version, stage="Production", user=None)
    services.alias_set(version=version, alias="champion", user=None)
    _, secret = services.token_create(owner=admin, user=None)
    yield secret
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    **({} if RANDOM else {"derandomize": True, "database": None}),
)
def test_api_conforms_to_its_schema(case, token):
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    # No vacuous pass: every call is authenticated and reaches the view (except after the
    # token-revoking operation has revoked the very token it is called with).
    if not (case.method == "DELETE" and case.path.startswith("/api/v1/tokens/")):
        assert response.status_code != 401, response.text


def test_the_schema_declares_the_error_shape_and_bearer_auth(client):
    document = client.get("/api/schema/?format=json").json()
    assert "Error" in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    transition = document["paths"][
        "/api/v1/models/{registry}/{name}/versions/{version}/transition/"
    ]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(transition["responses"])


def test_swagger_ui_is_served_locally(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page.replace("https://swagger.io", "")
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
