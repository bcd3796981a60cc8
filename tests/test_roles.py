"""Roles per registration: each role against each action, on every surface, and reads limited
to what a user may see when the default role is `none`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from models_app import access, selectors, services
from models_app.access import Role
from models_app.exceptions import Conflict, NotFound, RegistryError
from models_app.models import ModelRegistration, ModelVersion, RegistrationRole

ROLES = ["viewer", "contributor", "approver", "owner"]


@pytest.fixture
def churn(make_version):
    v1 = make_version("churn")
    v2 = make_version("churn")
    services.version_transition_stage(version=v1, stage="Production", user=None)
    return v1, v2


@pytest.fixture
def member(django_user_model):
    """A signed-in user with no global permission at all."""
    return django_user_model.objects.create_user("mia", password="mia-pass-123")


def _as(member, registration, role: str | None):
    if role is not None:
        services.role_grant(registration=registration, principal="mia", role=role, user=None)
    return type(member).objects.get(pk=member.pk)


def _allowed(call) -> bool:
    try:
        call()
    except (PermissionDenied, RegistryError):
        return False
    return True


# What each role may do: the action, then the lowest role allowed. One service call each.
ACTIONS = {
    "edit the description": (
        lambda u, v1, v2: services.registration_update(
            registration=v1.registration, description="new", user=u
        ),
        "contributor",
    ),
    "register a version": (
        lambda u, v1, v2: services.version_register(
            registry=v1.registration.registry, name="churn", model_source_uri="s3://b/3", user=u
        ),
        "contributor",
    ),
    "edit a version": (
        lambda u, v1, v2: services.version_update(version=v2, description="d", user=u),
        "contributor",
    ),
    "move to Staging": (
        lambda u, v1, v2: services.version_transition_stage(version=v2, stage="Staging", user=u),
        "contributor",
    ),
    "set an alias": (
        lambda u, v1, v2: services.alias_set(version=v2, alias="challenger", user=u),
        "contributor",
    ),
    "archive": (
        lambda u, v1, v2: services.version_transition_stage(version=v2, stage="Archived", user=u),
        "approver",
    ),
    "move Production out": (
        lambda u, v1, v2: services.version_transition_stage(version=v1, stage="Staging", user=u),
        "approver",
    ),
    "set a protected alias": (
        lambda u, v1, v2: services.alias_set(version=v1, alias="champion", user=u),
        "approver",
    ),
    "rename": (
        lambda u, v1, v2: services.registration_rename(
            registration=v1.registration, new_name="churn-2", user=u
        ),
        "owner",
    ),
    "delete a version": (
        lambda u, v1, v2: services.version_delete(version=v2, user=u),
        "owner",
    ),
    "manage roles": (
        lambda u, v1, v2: services.role_grant(
            registration=v1.registration, principal="root", role="viewer", user=u
        ),
        "owner",
    ),
    "delete the model": (
        lambda u, v1, v2: services.registration_delete(registration=v1.registration, user=u),
        "owner",
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_role_against_each_action(churn, member, admin_user, role, action):
    v1, v2 = churn
    call, lowest = ACTIONS[action]
    user = _as(member, v1.registration, role)
    expected = ROLES.index(role) >= ROLES.index(lowest)
    assert _allowed(lambda: call(user, v1, v2)) is expected, f"{role} {action}"


def test_a_refusal_names_the_role_needed_and_the_one_held(churn, member):
    v1, v2 = churn
    user = _as(member, v1.registration, "contributor")
    with pytest.raises(PermissionDenied, match="needs the owner role, and yours is contributor"):
        services.registration_rename(registration=v1.registration, new_name="x", user=user)
    assert ModelRegistration.objects.filter(name="churn").exists()


def test_a_group_grant_gives_its_members_the_role(churn, member):
    v1, v2 = churn
    group = Group.objects.create(name="ml-team")
    member.groups.add(group)
    services.role_grant(
        registration=v1.registration, principal="@ml-team", role="approver", user=None
    )
    user = type(member).objects.get(pk=member.pk)
    assert access.role_of(user, v1.registration) == Role.APPROVER
    services.version_transition_stage(version=v2, stage="Production", user=user)
    assert ModelVersion.objects.get(pk=v2.pk).stage == "Production"


def test_the_highest_of_grant_global_and_default_wins(churn, member, reviewer, admin_user):
    v1, _ = churn
    assert access.role_of(member, v1.registration) == Role.VIEWER  # the default
    assert access.role_of(reviewer, v1.registration) == Role.APPROVER  # global permission
    services.role_grant(registration=v1.registration, principal="bob", role="viewer", user=None)
    bob = type(reviewer).objects.get(pk=reviewer.pk)
    assert access.role_of(bob, v1.registration) == Role.APPROVER  # a lower grant takes nothing
    assert access.role_of(admin_user, v1.registration) == Role.ADMIN
    assert access.role_of(None, v1.registration) == Role.ADMIN  # an operator on the server


def test_the_creator_owns_the_registration(registry, engineer):
    registration = services.registration_create(registry=registry, name="fraud", user=engineer)
    grant = RegistrationRole.objects.get(registration=registration)
    assert (grant.user, grant.role) == (engineer, "owner")
    version = services.version_register(
        registry=registry, name="brand-new", model_source_uri="s3://b/1", user=engineer
    )
    assert RegistrationRole.objects.get(registration=version.registration).role == "owner"


def test_the_last_owner_cannot_be_removed_or_demoted(registry, engineer, member):
    registration = services.registration_create(registry=registry, name="fraud", user=engineer)
    with pytest.raises(Conflict, match="last owner"):
        services.role_revoke(registration=registration, principal="alice", user=engineer)
    with pytest.raises(Conflict, match="last owner"):
        services.role_grant(
            registration=registration, principal="alice", role="viewer", user=engineer
        )
    services.role_grant(registration=registration, principal="mia", role="owner", user=engineer)
    services.role_revoke(registration=registration, principal="alice", user=engineer)
    assert list(RegistrationRole.objects.values_list("user__username", "role")) == [
        ("mia", "owner")
    ]


def test_granting_again_replaces_the_role(churn, member):
    v1, _ = churn
    for role in ("viewer", "approver", "contributor"):
        services.role_grant(registration=v1.registration, principal="mia", role=role, user=None)
    assert list(RegistrationRole.objects.values_list("role", flat=True)) == ["contributor"]


@pytest.mark.parametrize(
    "principal, role, error",
    [
        ("nobody", "viewer", NotFound),
        ("@nogroup", "viewer", NotFound),
        ("mia", "superuser", Exception),
        ("", "viewer", Exception),
        ("@", "viewer", Exception),
    ],
)
def test_bad_grants_are_refused(churn, member, principal, role, error):
    v1, _ = churn
    with pytest.raises(error):
        services.role_grant(registration=v1.registration, principal=principal, role=role, user=None)
    assert not RegistrationRole.objects.exists()


# Reads when the default role is none ---------------------------------------------------------
@pytest.fixture
def private(settings, make_version, member):
    """Two models; the member is granted a viewer role on `visible` only."""
    settings.MODEL_REGISTRY_DEFAULT_ROLE = "none"
    visible = make_version("visible")
    sealed = make_version("sealed")
    services.role_grant(
        registration=visible.registration, principal="mia", role="viewer", user=None
    )
    return visible, sealed


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_listings_and_counts_show_only_what_the_user_may_read(client, private, member):
    visible, sealed = private
    api = _client(member)
    names = [m["name"] for m in api.get("/api/v1/models/").json()["results"]]
    assert names == ["visible"]
    versions = api.get("/api/v1/versions/").json()["results"]
    assert {v["name"] for v in versions} == {"visible"}
    body = api.get("/api/2.0/mlflow/registered-models/search").json()
    assert [m["name"] for m in body["registered_models"]] == ["visible"]
    body = api.get("/api/2.0/mlflow/model-versions/search").json()
    assert {v["name"] for v in body["model_versions"]} == {"visible"}
    assert selectors.registration_count(user=member) == 1
    assert sum(selectors.version_stage_counts(user=member).values()) == 1
    client.force_login(member)
    page = client.get(reverse("registration_list")).content.decode()
    assert "visible" in page and "sealed" not in page
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "sealed" not in dashboard


def test_a_model_the_user_may_not_read_does_not_exist_for_them(client, private, member):
    _, sealed = private
    api = _client(member)
    for address in (
        "/api/v1/models/default/sealed/",
        "/api/v1/models/default/sealed/versions/",
        "/api/v1/models/default/sealed/versions/1/",
        "/api/v1/models/default/sealed/versions/latest/",
        "/api/v1/models/default/sealed/roles/",
    ):
        assert api.get(address).status_code == 404, address
    response = api.get("/api/2.0/mlflow/registered-models/get", {"name": "sealed"})
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = api.get("/api/2.0/mlflow/model-versions/get", {"name": "sealed", "version": "1"})
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    client.force_login(member)
    assert client.get(reverse("registration_detail", args=["default", "sealed"])).status_code == 404
    # Writing to it is refused the same way, nothing learnt and nothing written.
    response = api.patch("/api/v1/models/default/sealed/", {"description": "x"}, format="json")
    assert response.status_code == 404
    assert ModelRegistration.objects.get(name="sealed").description == ""


def test_an_unlimited_reader_costs_no_extra_query(
    client, private, admin_user, django_assert_max_num_queries
):
    """Administrators and global roles read without the per-row filter."""
    assert access.reads_everything(admin_user)
    query = str(access.readable_registrations(admin_user, ModelRegistration.objects.all()).query)
    assert "registrationrole" not in query.lower()


def test_the_filtered_list_keeps_its_query_count(private, member, django_assert_max_num_queries):
    api = _client(member)
    with django_assert_max_num_queries(6):
        assert api.get("/api/v1/models/").status_code == 200


# Surfaces: REST, page, CLI, admin --------------------------------------------------------
def test_rest_roles_grant_list_revoke(churn, member, django_user_model):
    v1, _ = churn
    owner = django_user_model.objects.create_user("olga", password="olga-pass-123")
    services.role_grant(registration=v1.registration, principal="olga", role="owner", user=None)
    api = _client(owner)
    url = "/api/v1/models/default/churn/roles/"
    response = api.post(url, {"principal": "mia", "role": "approver"}, format="json")
    assert response.status_code == 201
    assert response.json()["principal"] == "mia" and response.json()["kind"] == "user"
    listed = {(r["principal"], r["role"]) for r in api.get(url).json()}
    assert listed == {("olga", "owner"), ("mia", "approver")}
    assert api.delete(url + "mia/").status_code == 204
    assert api.delete(url + "mia/").status_code == 404
    # A contributor may read the roles but not change them.
    services.role_grant(
        registration=v1.registration, principal="mia", role="contributor", user=None
    )
    mia = _client(type(member).objects.get(pk=member.pk))
    assert mia.get(url).status_code == 200
    response = mia.post(url, {"principal": "mia", "role": "owner"}, format="json")
    assert response.status_code == 403
    assert RegistrationRole.objects.get(user=member).role == "contributor"
    response = api.post(url, {"principal": "mia", "role": "king"}, format="json")
    assert response.status_code == 400


def test_page_owner_grants_and_revokes_others_only_see(client, churn, member, django_user_model):
    v1, _ = churn
    owner = django_user_model.objects.create_user("olga", password="olga-pass-123")
    services.role_grant(registration=v1.registration, principal="olga", role="owner", user=None)
    url = reverse("registration_roles", args=["default", "churn"])
    client.force_login(member)
    page = client.get(url).content.decode()
    assert "olga" in page and "Grant a role" not in page
    response = client.post(url, {"principal": "mia", "role": "owner"}, follow=True)
    assert "do not have permission" in response.content.decode()
    assert not RegistrationRole.objects.filter(user=member).exists()
    client.force_login(owner)
    response = client.post(url, {"principal": "mia", "role": "approver"}, follow=True)
    assert "mia is now approver" in response.content.decode()
    assert RegistrationRole.objects.get(user=member).role == "approver"
    response = client.post(url, {"revoke": "mia"}, follow=True)
    assert not RegistrationRole.objects.filter(user=member).exists()


def _cli(*args):
    out = StringIO()
    call_command("model_registry", *args, stdout=out)
    return out.getvalue()


def test_cli_roles(churn, member):
    data = json.loads(_cli("roles", "grant", "churn", "mia", "approver", "--json"))
    assert data == {**data, "principal": "mia", "role": "approver", "kind": "user"}
    group = Group.objects.create(name="ops")
    _cli("roles", "grant", "churn", "@ops", "viewer")
    listed = json.loads(_cli("roles", "list", "churn", "--json"))
    assert {(r["principal"], r["kind"], r["role"]) for r in listed} == {
        ("mia", "user", "approver"),
        ("@ops", "group", "viewer"),
    }
    # Acting as a user who is not an owner: one line, exit 1, nothing changed.
    with pytest.raises(CommandError, match="needs the owner role"):
        _cli("roles", "revoke", "churn", "@ops", "--user", "mia")
    assert RegistrationRole.objects.filter(group=group).exists()
    _cli("roles", "revoke", "churn", "@ops")
    assert not RegistrationRole.objects.filter(group=group).exists()


def test_cli_reads_only_what_the_user_may_read(private, member):
    data = json.loads(_cli("models", "list", "--json", "--user", "mia"))
    assert [m["name"] for m in data] == ["visible"]
    with pytest.raises(CommandError, match="does not exist"):
        _cli("models", "get", "sealed", "--user", "mia")


def test_admin_grants_through_the_service(client, churn, member, admin_user):
    v1, _ = churn
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:models_app_registrationrole_add"),
        {"registration": v1.registration.pk, "user": member.pk, "group": "", "role": "approver"},
        follow=True,
    )
    assert response.status_code == 200
    grant = RegistrationRole.objects.get(user=member)
    assert (grant.role, grant.granted_by) == ("approver", "root")
