"""Dashboard defects found by trying the pages as a new user (issue 13), server side."""

import html
import re

import pytest
from django.urls import reverse

from models_app import services
from models_app.models import ModelVersion, StageTransition

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    return client


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn", metrics={"precision": 0.95})
    v2 = make_version("churn", metrics={"precision": 0.80})
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2


def test_an_empty_stage_in_the_versions_filter_means_any_stage(admin_client, churn):
    page = reverse("registration_detail", args=("default", "churn"))
    response = admin_client.get(
        page, {"partial": "versions", "stage": "", "metric": "precision>=0.9"}, **HTMX
    )
    body = response.content.decode()
    assert "Select a valid choice" not in body and "alert-error" not in body
    assert 'id="version-1"' in body and 'id="version-2"' not in body


@pytest.mark.parametrize(
    "path,query",
    [
        ("registration_list", {"stage": "", "registry": "", "q": "", "tag": ""}),
        ("api-version-search", {"stage": "", "metric": "", "created_after": ""}),
        ("api-transition-list", {"to_stage": "", "cause": "", "version": ""}),
        ("api-registration-list", {"stage": "", "registry": "", "ordering": ""}),
    ],
)
def test_empty_filter_fields_mean_any_on_every_listing(admin_client, churn, path, query):
    response = admin_client.get(reverse(path), query)
    assert response.status_code == 200
    assert b"churn" in response.content
    assert b"Select a valid choice" not in response.content


def test_the_page_form_refuses_to_leave_production_without_the_confirmation(admin_client, churn):
    move = reverse("version_transition", args=("default", "churn", 1))
    body = admin_client.post(move, {"stage": "Staging"}, **HTMX).content.decode()
    assert "was not moved" in body and "out of Production" in body
    assert ModelVersion.objects.get(version=1).stage == "Production"
    # Promoting v2 with "archive" ticked would archive v1: also refused without the tick.
    admin_client.post(
        reverse("version_transition", args=("default", "churn", 2)),
        {"stage": "Production", "archive_existing": "on"},
        **HTMX,
    )
    assert ModelVersion.objects.get(version=1).stage == "Production"
    assert ModelVersion.objects.get(version=2).stage == "None"
    assert StageTransition.objects.count() == 1

    admin_client.post(move, {"stage": "Staging", "confirm_production": "on", "comment": "rollback"})
    assert ModelVersion.objects.get(version=1).stage == "Staging"


def test_moves_that_do_not_touch_production_need_no_confirmation(admin_client, churn):
    admin_client.post(
        reverse("version_transition", args=("default", "churn", 2)), {"stage": "Staging"}, **HTMX
    )
    assert ModelVersion.objects.get(version=2).stage == "Staging"


def test_the_rest_api_keeps_its_transition_contract(admin_client, churn):
    response = admin_client.post(
        reverse("api-version-transition", args=("default", "churn", 1)),
        {"stage": "Staging"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert ModelVersion.objects.get(version=1).stage == "Staging"


def test_the_version_page_has_one_move_control_and_no_preselected_target(admin_client, churn):
    body = admin_client.get(reverse("version_detail", args=("default", "churn", 1))).content
    body = body.decode()
    assert body.count("data-move=") == 1 and 'id="move-dialog"' in body
    assert "checked" not in body.split('name="stage"')[1].split(">")[0]
    assert "hx-confirm" not in body
    # Without JavaScript the link opens the same dialog, rendered open.
    body = admin_client.get(
        reverse("version_detail", args=("default", "churn", 1)), {"move": "1"}
    ).content.decode()
    assert re.search(r"<dialog[^>]*\sopen>", body)


def test_creating_a_token_redirects_and_shows_the_secret_once(client, django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    client.force_login(user)
    response = client.post(reverse("tokens"), {"name": "ci"})
    assert response.status_code == 302 and response["Location"] == reverse("tokens")
    shown = client.get(reverse("tokens"))
    token = user.api_tokens.get()
    assert f"mr_{token.prefix}_" in shown.content.decode().replace(f"mr_{token.prefix}_…", "")
    assert "no-store" in shown["Cache-Control"]
    # A reload shows no secret and creates nothing.
    again = client.get(reverse("tokens")).content.decode()
    assert f"mr_{token.prefix}_" not in again.replace(f"mr_{token.prefix}_…", "")
    assert user.api_tokens.count() == 1


def test_revoking_a_token_asks_first(client, django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    client.force_login(user)
    client.post(reverse("tokens"), {"name": "ci"})
    body = client.get(reverse("tokens")).content.decode()
    form = body.split('<details class="confirm">')[1].split("</details>")[0]
    assert "<summary" in form and 'name="revoke"' in form.split("</summary>")[1]


def test_revoking_all_tokens_asks_first(client, django_user_model):
    user = django_user_model.objects.create_user("carol", password="carol-pass-123")
    client.force_login(user)
    client.post(reverse("tokens"), {"name": "ci"})
    body = client.get(reverse("tokens")).content.decode()
    box = body.split('<details class="confirm revoke-all">')[1].split("</details>")[0]
    summary, confirm = box.split("</summary>")
    assert "Revoke all 1 active token" in summary and "revoke_all" not in summary
    assert 'name="revoke_all"' in confirm and "refused from now on" in confirm
    assert body.count('name="revoke_all"') == 1


@pytest.mark.parametrize(
    "asked,message",
    [
        (["1", "99"], "Version 99 does not exist."),
        (["1", "98", "99"], "Versions 98, 99 do not exist."),
        (["1", "abc"], "'abc' is not a version number."),
    ],
)
def test_compare_names_what_is_wrong_with_the_versions_asked(admin_client, churn, asked, message):
    response = admin_client.get(
        reverse("compare", args=("default", "churn")), {"v": asked}, follow=True
    )
    assert message in html.unescape(response.content.decode())
    assert "Tick at least two" not in response.content.decode()


def test_compare_highlights_each_cell_that_differs_from_the_first_version(
    admin_client, make_version
):
    make_version("m", metrics={"f1": 0.5}, parameters={"lr": "0.1", "depth": "3"})
    make_version("m", metrics={"f1": 0.5}, parameters={"lr": "0.2", "depth": "3"})
    body = admin_client.get(reverse("compare", args=("default", "m")), {"v": ["1", "2"]})
    page = body.content.decode()

    def cells(key):
        row = re.search(rf"<th>{key}\b.*?</tr>", page, re.S).group(0)
        return re.findall(r"<td[^>]*>", row)

    assert not any("changed" in cell for cell in cells("depth"))
    assert ["changed" in cell for cell in cells("lr")] == [False, True]


def test_the_404_page_has_the_navigation_and_a_way_back(admin_client, client, db):
    for who in (admin_client, client):
        response = who.get("/models/default/no-such-model/")
        assert response.status_code in (302, 404)
    response = admin_client.get("/models/default/no-such-model/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'class="topbar"' in body and reverse("registration_list") in body
    assert "Back to the dashboard" in body
    anonymous = client.get("/no-such-page/")
    assert anonymous.status_code == 404 and 'class="topbar"' in anonymous.content.decode()


def test_the_500_page_renders_with_the_navigation_and_no_database(rf):
    from models_app.health import server_error

    # No `db` fixture: any query while rendering would raise here.
    response = server_error(rf.get("/models/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert 'class="topbar"' in body and "Back to the dashboard" in body


def test_favicon_is_served(client, db):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO header


def test_pages_have_a_skip_link_and_named_chart_links(admin_client, churn):
    body = admin_client.get(reverse("registration_detail", args=("default", "churn"))).content
    body = body.decode()
    assert body.index('href="#main"') < body.index('class="topbar"')
    assert 'id="main"' in body and 'href="#versions"' in body
    for link in re.findall(r'<a href="/models/default/churn/versions/\d+/"[^>]*>\s*<circle', body):
        assert "aria-label=" in link


def test_seed_bulk_with_an_unknown_registry_is_a_one_line_error(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Registry 'nowhere' does not exist"):
        call_command("seed_bulk", registry="nowhere", registrations=1, no_progress=True)


def test_the_models_list_has_one_search_box_numbered_pages_and_newest_first_dates(
    admin_client, registry
):
    services.registrations_bulk_create(
        registry=registry,
        registrations=[{"name": f"model-{i:03}", "versions": []} for i in range(80)],
        user=None,
    )
    body = admin_client.get(reverse("registration_list")).content.decode()
    assert body.count('type="search"') == 1
    assert 'aria-current="page">1<' in body and "page=2" in body and "page=4" in body
    assert "ordering=-updated" in body  # the first click on Updated: newest first
    assert "ordering=registry" in body
    sorted_desc = admin_client.get(reverse("registration_list"), {"ordering": "-updated"})
    assert "ordering=updated" in sorted_desc.content.decode()


def test_the_register_form_reports_every_error_at_once_and_marks_required_fields(admin_client, db):
    data = {"registry": "default", "name": "new-model", "model_source_uri": "", "metrics": "a=x"}
    body = html.unescape(admin_client.post(reverse("register_version"), data).content.decode())
    errors = re.findall(r'<div class="field-error" id="id_(\w+)-error">', body)
    assert {"model_source_uri", "metrics"} <= set(errors), errors
    page = admin_client.get(reverse("register_version")).content.decode()
    for field in ("id_registry", "id_name", "id_model_source_uri"):
        label = re.search(rf'<label for="{field}">.*?</label>', page, re.S).group(0)
        assert 'class="req"' in label, field
    assert 'aria-required="true"' in page


def test_name_suggestions_come_from_the_server_as_the_user_types(admin_client, registry):
    services.registrations_bulk_create(
        registry=registry,
        registrations=[{"name": f"a-model-{i:03}", "versions": []} for i in range(600)]
        + [{"name": "zeta-forecaster", "versions": []}],
        user=None,
    )
    body = admin_client.get(
        reverse("similar_names"), {"registry": "default", "name": "zeta"}, **HTMX
    ).content.decode()
    assert 'id="model-names"' in body and 'hx-swap-oob="true"' in body
    assert '<option value="zeta-forecaster">' in body and "a-model-" not in body
