"""Add a registry from a page: each flavor's own fields, a connection test through the
flavor (by the outbound-address rule; nothing saved), and errors next to their field."""

import re

import pytest
from django.urls import reverse

from models_app.models import Registry


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


URL = "/registries/new/"


def test_the_form_offers_each_flavor_with_its_own_fields(admin_client, db):
    body = admin_client.get(URL).content.decode()
    assert re.search(r'<option value="mlflow" selected>mlflow</option>', body)
    assert '<option value="builtin"' in body
    mlflow = body.split('data-flavor-fields="mlflow"')[1].split("</fieldset>")[0]
    for key in ("tracking_uri", "registry_uri", "ui_uri"):
        assert f'name="mlflow.{key}"' in mlflow, key
    assert 'Tracking URI <span class="req"' in mlflow
    builtin = body.split('data-flavor-fields="builtin"')[1].split("</fieldset>")[0]
    assert 'name="builtin.tracking_uri"' in builtin and "config" not in builtin
    assert "Test connection" in body and "Add the registry" in body
    registries = admin_client.get(reverse("registries")).content.decode()
    assert f'href="{URL}"' in registries and "admin/models_app/registry/add" not in registries


def test_a_registry_is_added_with_only_the_chosen_flavors_settings(admin_client, mlflow_server):
    response = admin_client.post(
        URL,
        {
            "name": "team-mlflow",
            "flavor": "mlflow",
            "mlflow.tracking_uri": mlflow_server.url,
            "mlflow.ui_uri": "https://mlflow.example.org",
            "builtin.tracking_uri": "http://ignored.example",
            "create": "1",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("registries")
    registry = Registry.objects.get(name="team-mlflow")
    assert registry.flavor == "mlflow"
    assert registry.config == {
        "tracking_uri": mlflow_server.url,
        "ui_uri": "https://mlflow.example.org",
    }


def test_test_connection_reaches_mlflow_and_saves_nothing(admin_client, mlflow_server):
    body = admin_client.post(
        URL,
        {"name": "x", "flavor": "mlflow", "mlflow.tracking_uri": mlflow_server.url, "test": "1"},
    ).content.decode()
    assert 'id="connection-result"' in body and "answered a registry search" in body
    assert not Registry.objects.filter(name="x").exists()
    # The typed values stay in the form, to save next.
    assert f'value="{mlflow_server.url}"' in body


def test_an_unreachable_server_is_reported_on_the_form(admin_client, db):
    body = admin_client.post(
        URL, {"flavor": "mlflow", "mlflow.tracking_uri": "http://127.0.0.1:9", "test": "1"}
    ).content.decode()
    assert "alert-error" in body and "MLflow at http://127.0.0.1:9 failed" in body
    assert 'id="connection-result"' not in body


@pytest.mark.parametrize(
    "uri,message",
    [
        ("http://169.254.169.254/latest/", "link-local address"),
        ("http://127.0.0.1:5000", "loopback"),
        ("file:///etc/passwd", "http(s)"),
        ("http://user:secret@mlflow.example.org", "credentials"),
    ],
)
def test_the_connection_test_keeps_the_outbound_address_rule(
    admin_client, db, settings, uri, message
):
    settings.MODEL_REGISTRY_ALLOW_PRIVATE_BACKENDS = False
    body = admin_client.post(
        URL, {"flavor": "mlflow", "mlflow.tracking_uri": uri, "test": "1"}
    ).content.decode()
    field = body.split('name="mlflow.tracking_uri"')[1].split("</fieldset>")[0]
    error = field.split('class="field-error">')[1].split("</div>")[0]
    assert error.startswith("tracking_uri: ") and message in error
    assert 'id="connection-result"' not in body


def test_the_builtin_flavor_needs_no_connection(admin_client, db):
    body = admin_client.post(URL, {"flavor": "builtin", "test": "1"}).content.decode()
    assert "nothing to connect to" in body


def test_a_missing_name_or_tracking_uri_is_shown_next_to_its_field(admin_client, db):
    body = admin_client.post(URL, {"flavor": "mlflow", "create": "1"}).content.decode()
    assert "needs a tracking_uri" in body
    assert Registry.objects.count() == 1  # only the default


def test_without_the_permission_the_page_refuses(client, django_user_model, db):
    user = django_user_model.objects.create_user("eve", password="eve-pass-12345")
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 403 and b"do not have permission" in response.content
    response = client.post(URL, {"name": "n", "flavor": "builtin", "create": "1"})
    assert not Registry.objects.filter(name="n").exists()
