"""Every address and its permission decision, checked for anonymous, signed in without the
permission, and permitted.

The suite walks every URL pattern the site serves. Each must be listed in ROUTES below with
its decision, or the suite fails saying what to add: a new page or endpoint cannot ship
without someone deciding who may use it. How to list one: see `Check` and the examples below.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from models_app import services
from models_app.models import ApiToken, Registry, SyncRun

# A global webhook to a loopback port nothing listens on (tests allow loopback receivers).
WEBHOOK = {"url": "http://127.0.0.1:9/hook", "events": ["alias.set"]}
PUBLIC = None  # anyone, signed in or not
SIGNED_IN = ()  # any signed-in user; otherwise a tuple of the permission codenames needed
PROTECTED_ALIAS = ("change_modelversion", "promote_modelversion")
APPROVE = ("change_modelversion", "promote_modelversion")
OWNER = ("change_modelregistration", "delete_modelregistration", "promote_modelversion")


@dataclasses.dataclass(frozen=True)
class Check:
    """One request to an address: who may make it and what it sends.

    `perms` is PUBLIC, SIGNED_IN or the codenames of the permissions it needs (all of them).
    `kwargs` fill the pattern's parameters beyond the defaults in SAMPLE (registry, name, ...).
    `status` is the answer a permitted request gets when it is not a plain success.
    """

    method: str = "get"
    data: dict | None = None
    perms: tuple[str, ...] | None = SIGNED_IN
    kwargs: dict = dataclasses.field(default_factory=dict)
    query: str = ""
    status: int | None = None
    follow: bool = True  # follow a page's redirect to see the message it leaves


MODEL = "models/<str:registry>/<str:name>/"
VERSION = MODEL + "versions/<str:version>/"
API = "api/v1/"
API_MODEL = API + MODEL
MLFLOW = "api/2.0/mlflow/<path:operation>"
AJAX = "ajax-api/2.0/mlflow/<path:operation>"


def _mlflow() -> list[Check]:
    return [
        Check(kwargs={"operation": "registered-models/get"}, query="name=m"),
        Check(kwargs={"operation": "registered-models/search"}),
        Check(
            "post",
            {"name": "new-model"},
            ("add_modelregistration",),
            kwargs={"operation": "registered-models/create"},
        ),
        Check(
            "post",
            {"name": "m", "version": "1", "stage": "Staging"},
            ("change_modelversion",),
            kwargs={"operation": "model-versions/transition-stage"},
        ),
    ]


# Patterns served elsewhere with their own permission system, and the test that covers them.
ELSEWHERE = {"admin/": "Django admin: staff only, then model permissions (tests/test_admin.py)"}

ROUTES: dict[str, list[Check]] = {
    # Pages
    "": [Check()],
    "login/": [Check(perms=PUBLIC)],
    "logout/": [Check("post", perms=PUBLIC, status=302, follow=False)],
    "healthz": [Check(perms=PUBLIC)],
    "favicon.ico": [Check(perms=PUBLIC)],
    "models/": [Check()],
    "search/": [Check(query="q=m")],
    "models/register/": [
        Check(),
        Check(
            "post",
            {"registry": "default", "name": "m", "model_source_uri": "s3://b/m"},
            ("add_modelversion",),
        ),
    ],
    "models/register/similar/": [Check(query="registry=default&name=M")],
    MODEL: [Check()],
    MODEL + "roles/": [Check(), Check("post", {"principal": "someone", "role": "viewer"}, OWNER)],
    MODEL + "edit/": [
        Check("post", {"description": "new"}, ("change_modelregistration",)),
        # The approval workflow and promotion gate are the owner's.
        Check(
            "post",
            {"workflow": "1", "promotion_gate": "accuracy >= 0.5"},
            OWNER,
        ),
    ],
    MODEL + "card/": [
        Check("post", {"card.intended_use": "Scoring churn"}, ("change_modelregistration",))
    ],
    MODEL + "compare/": [Check(query="v=1&v=2")],
    MODEL + "timeline/": [Check(), Check(query="at=2026-11-24T12:00:00%2B01:00&stage=Production")],
    # Nothing in Production in `site`: a permitted rollback is told so (not refused).
    MODEL + "rollback/": [
        Check("post", {"comment": "c"}, ("change_modelversion", "promote_modelversion"))
    ],
    VERSION: [Check()],
    VERSION + "transition/": [Check("post", {"stage": "Staging"}, ("change_modelversion",))],
    VERSION + "aliases/": [Check("post", {"alias": "best"}, ("change_modelversion",))],
    # Promotion requests: version 2 has a pending request by `asker` (see `site`).
    "requests/": [Check(), Check(query="state=approved")],
    "requests/<str:request_id>/approve/": [Check("post", perms=APPROVE)],
    "requests/<str:request_id>/reject/": [
        Check("post", {"comment": "no"}, ("promote_modelversion",))
    ],
    "requests/<str:request_id>/cancel/": [Check("post", perms=("promote_modelversion",))],
    # `champion` is protected: moving or deleting it is part of the promote gate.
    VERSION + "aliases/<str:alias>/delete/": [Check("post", perms=PROTECTED_ALIAS)],
    "registries/": [Check()],
    "registries/new/": [
        Check(perms=("add_registry",)),
        Check("post", {"name": "team-c", "flavor": "builtin"}, ("add_registry",)),
        Check("post", {"flavor": "builtin", "test": "1"}, ("add_registry",)),
    ],
    "registries/<str:registry>/sync/": [
        Check("post", perms=("change_registry",), kwargs={"registry": "dict"})
    ],
    "tokens/": [Check(), Check("post", {"name": "ci"})],
    "webhooks/": [
        Check(),
        Check("post", {**WEBHOOK, "events": "alias.set"}, ("add_webhook",)),
    ],
    "webhooks/<str:webhook_id>/": [Check(perms=("view_webhook",))],
    "webhooks/<str:webhook_id>/test/": [Check("post", perms=("view_webhook", "change_webhook"))],
    "webhooks/<str:webhook_id>/delete/": [Check("post", perms=("view_webhook", "delete_webhook"))],
    "trash/": [Check()],
    # `item_id` is the site's trashed model `gone`; purging needs the box ticked.
    "trash/<str:kind>/<str:item_id>/restore/": [
        Check("post", perms=OWNER, kwargs={"kind": "model"})
    ],
    "trash/<str:kind>/<str:item_id>/purge/": [
        Check("post", {"confirm": "yes"}, OWNER, kwargs={"kind": "model"})
    ],
    "audit/": [Check(perms=("view_auditevent",), query="model=m")],
    # REST API
    "api/": [Check(perms=PUBLIC, status=404)],
    "api/schema/": [Check(perms=PUBLIC)],
    "api/docs/": [Check(perms=PUBLIC)],
    API + "registries/": [
        Check(),
        Check("post", {"name": "team-b"}, ("add_registry",), status=201),
    ],
    API + "registries/<str:registry>/": [
        Check(),
        Check("patch", {"description": "d"}, ("change_registry",)),
        Check("delete", perms=("delete_registry",), kwargs={"registry": "dict"}, status=204),
    ],
    API + "registries/<str:registry>/sync/": [
        Check("post", perms=("change_registry",), kwargs={"registry": "dict"}, status=202)
    ],
    API + "registries/<str:registry>/syncs/": [Check(kwargs={"registry": "dict"})],
    API + "registries/<str:registry>/syncs/<str:run_id>/": [Check(kwargs={"registry": "dict"})],
    API + "flavors/": [Check()],
    API + "models/": [
        Check(),
        Check("post", {"name": "new-model"}, ("add_modelregistration",), status=201),
    ],
    API_MODEL: [
        Check(),
        Check("patch", {"description": "d"}, ("change_modelregistration",)),
        Check(
            "patch",
            {"approval_required": False, "promotion_gate": "accuracy >= 0.5"},
            OWNER,
        ),
        Check("delete", perms=("delete_modelregistration", "promote_modelversion"), status=204),
    ],
    API_MODEL + "history/": [Check(), Check(query="at=2026-11-24T12:00:00%2B01:00&alias=champion")],
    # Nothing in Production in `site`, so a permitted rollback is refused as a conflict.
    API_MODEL + "rollback/": [
        Check("post", {"comment": "c"}, ("change_modelversion", "promote_modelversion"), status=409)
    ],
    API_MODEL + "aliases/": [
        Check(),
        Check("post", {"alias": "best", "version": 1}, ("change_modelversion",), status=201),
    ],
    API_MODEL + "aliases/<str:alias>/": [
        Check(),
        Check("put", {"version": 2}, PROTECTED_ALIAS),
        Check("delete", perms=PROTECTED_ALIAS, status=204),
    ],
    API_MODEL + "versions/": [
        Check(),
        Check("post", {"model_source_uri": "s3://b/3"}, ("add_modelversion",), status=201),
    ],
    API_MODEL + "versions/latest/": [Check()],
    API_MODEL + "versions/<str:version>/": [
        Check(),
        Check("patch", {"description": "d"}, ("change_modelversion",)),
        Check("delete", perms=("delete_modelversion", "promote_modelversion"), status=204),
    ],
    API_MODEL + "versions/<str:version>/transition/": [
        Check("post", {"stage": "Staging"}, ("change_modelversion",)),
        Check(
            "post",
            {"stage": "Production"},
            ("change_modelversion", "promote_modelversion"),
        ),
        # A contributor's move to Production is a request for approval: 202.
        Check("post", {"stage": "Production"}, ("change_modelversion",), status=202),
    ],
    API_MODEL + "versions/<str:version>/history/": [Check()],
    API + "requests/": [Check(), Check(query="state=pending")],
    API + "requests/<str:request_id>/": [Check()],
    API + "requests/<str:request_id>/approve/": [Check("post", perms=APPROVE)],
    API + "requests/<str:request_id>/reject/": [
        Check("post", {"comment": "no"}, ("promote_modelversion",))
    ],
    API + "requests/<str:request_id>/cancel/": [Check("post", perms=("promote_modelversion",))],
    API_MODEL + "roles/": [
        Check(),
        Check("post", {"principal": "someone", "role": "viewer"}, OWNER, status=201),
    ],
    API_MODEL + "roles/<str:principal>/": [Check("delete", perms=OWNER, status=204)],
    API + "versions/": [Check()],
    API + "transitions/": [Check()],
    API + "trash/": [Check()],
    # `item_id` is the site's trashed model `gone`.
    API + "trash/<str:kind>/<str:item_id>/restore/": [
        Check("post", perms=OWNER, kwargs={"kind": "model"})
    ],
    API + "trash/<str:kind>/<str:item_id>/purge/": [
        Check(
            "post",
            {"confirm": True},
            OWNER,
            kwargs={"kind": "model"},
            status=204,
        )
    ],
    API + "tokens/": [Check(), Check("post", {"name": "ci"}, status=201)],
    API + "audit/": [Check(perms=("view_auditevent",), query="action=create")],
    API + "tokens/<str:token_id>/": [Check("delete", status=204)],
    API + "me/": [Check()],
    # Global webhooks need the webhook permissions (a model's own ones, its Owner role:
    # tests/test_webhooks.py).
    API + "webhooks/": [
        Check(),
        Check("post", WEBHOOK, ("add_webhook",), status=201),
    ],
    API + "webhooks/<str:webhook_id>/": [
        Check(perms=("view_webhook",)),
        Check("delete", perms=("view_webhook", "delete_webhook"), status=204),
    ],
    API + "webhooks/<str:webhook_id>/deliveries/": [Check(perms=("view_webhook",))],
    API + "webhooks/<str:webhook_id>/test/": [
        Check("post", perms=("view_webhook", "change_webhook"), status=202)
    ],
    # MLflow-compatible API, and the same under the MLflow UI's path
    MLFLOW: _mlflow(),
    AJAX: _mlflow(),
}

SAMPLE = {
    "registry": "default",
    "name": "m",
    "version": "1",
    "alias": "champion",
    "principal": "@reviewers",
}
REFUSED_PAGE = "do not have permission"
REFUSED_ROLE = "You need the "  # a refusal by role (models_app.access)


def walk(patterns=None, prefix: str = ""):
    """(route, pattern) for every URL pattern the site serves, admin's left to ELSEWHERE."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route in ELSEWHERE:
                continue
            yield from walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def test_every_address_has_a_permission_decision():
    served = dict(walk())
    missing = [
        f'    "{route}": [Check(...)],  # {entry.lookup_str}'
        for route, entry in served.items()
        if route not in ROUTES
    ]
    assert not missing, (
        "These URL patterns have no permission decision. Add each to ROUTES in "
        "tests/test_permissions.py with who may call it: Check(perms=PUBLIC), Check() for any "
        "signed-in user, or Check('post', data, ('codename',)) for a permission:\n"
        + "\n".join(missing)
    )
    gone = sorted(set(ROUTES) - set(served))
    assert not gone, f"ROUTES lists patterns the site no longer serves: {gone}"
    for prefix in ELSEWHERE:
        assert any(str(e.pattern) == prefix for e in get_resolver().url_patterns), prefix


CASES = [
    pytest.param(route, check, id=f"{check.method.upper()} /{route} {check.kwargs or ''}")
    for route, checks in ROUTES.items()
    for check in checks
]


@pytest.fixture
def site(db, django_user_model):
    """A model `m` with versions 1 and 2 (alias champion on 1), a syncable registry `dict`,
    and a model `gone` in the trash."""
    registry = Registry.objects.get(name="default")
    for number in (1, 2):
        version = services.version_register(
            registry=registry, name="m", model_source_uri=f"s3://b/{number}", user=None
        )
        if number == 1:
            services.alias_set(version=version, alias="champion", user=None)
    asker = _user(django_user_model, "change_modelversion", username="asker")
    request = services.version_stage_change(version=version, stage="Production", user=asker)
    Group.objects.create(name="reviewers")
    services.role_grant(
        registration=version.registration, principal="@reviewers", role="viewer", user=None
    )
    dict_registry = services.registry_create(name="dict", flavor="dict", user=None)
    run = SyncRun.objects.create(registry=dict_registry, status=SyncRun.Status.SUCCEEDED)
    gone = services.registration_create(registry=registry, name="gone", user=None)
    services.registration_delete(registration=gone, user=None)
    return {"run_id": str(run.pk), "request_id": str(request.request.pk), "item_id": str(gone.pk)}


def _address(route: str, check: Check, site: dict, user) -> str:
    values = {**SAMPLE, **site, **check.kwargs}
    if "<str:token_id>" in route:
        owner = user or _user(get_user_model(), username="owner")
        token, _ = services.token_create(owner=owner, name="mine", user=owner)
        values["token_id"] = str(token.pk)
    if "<str:webhook_id>" in route:
        webhook, _ = services.webhook_create(**WEBHOOK, user=None)
        values["webhook_id"] = str(webhook.pk)
    path = "/" + route
    for key, value in values.items():
        path = path.replace(f"<str:{key}>", value).replace(f"<path:{key}>", value)
    assert "<" not in path, f"No sample value for a parameter of {route}: add it to kwargs."
    return path + (f"?{check.query}" if check.query else "")


def _call(client, route: str, check: Check, site: dict, user=None):
    address = _address(route, check, site, user)
    method = getattr(client, check.method)
    if not _is_api(route):
        return method(address, check.data or {}, follow=check.follow and check.method != "get")
    headers = {}
    if user is not None:  # the MLflow-compatible API takes tokens, not the session
        _, secret = services.token_create(owner=user, name="walker", user=user)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    if check.method == "get":
        return method(address, **headers)
    body = json.dumps(check.data or {})
    return method(address, body, content_type="application/json", **headers)


def _is_api(route: str) -> bool:
    return route.startswith(("api/", "ajax-api/"))


def _sent_to_sign_in(response) -> bool:
    chain = getattr(response, "redirect_chain", None) or []
    first = chain[0][0] if chain else response.get("Location", "")
    return first.startswith("/login/")


def _refused(response, route: str) -> bool:
    if _is_api(route):
        return response.status_code in (401, 403)
    content = response.content.decode()
    return _sent_to_sign_in(response) or REFUSED_PAGE in content or REFUSED_ROLE in content


def _allowed(response, check: Check) -> bool:
    if check.status is not None:
        return response.status_code == check.status
    return (
        response.status_code < 400
        and not _sent_to_sign_in(response)
        and REFUSED_PAGE not in response.content.decode(errors="replace")
        and REFUSED_ROLE not in response.content.decode(errors="replace")
    )


def _user(django_user_model, *codenames, username="someone"):
    user = django_user_model.objects.create_user(username, password="pw-123456789")
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="models_app", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize("route, check", CASES)
def test_anonymous(client, site, route, check):
    response = _call(client, route, check, site)
    if check.perms is PUBLIC:
        assert _allowed(response, check), response
    else:
        assert _refused(response, route), (response.status_code, response.content[:300])


@pytest.mark.parametrize("route, check", CASES)
def test_signed_in_without_permission(client, site, django_user_model, route, check):
    user = _user(django_user_model)
    client.force_login(user)
    response = _call(client, route, check, site, user)
    if check.perms:
        assert _refused(response, route), (response.status_code, response.content[:300])
    else:
        assert _allowed(response, check), (response.status_code, response.content[:300])


@pytest.mark.parametrize("route, check", [c for c in CASES if c.values[1].perms])
def test_permitted(client, site, django_user_model, route, check):
    user = _user(django_user_model, *check.perms)
    client.force_login(user)
    response = _call(client, route, check, site, user)
    assert _allowed(response, check), (response.status_code, response.content[:300])


def test_a_token_is_only_its_owners(client, site, django_user_model):
    owner = _user(django_user_model)
    token, _ = services.token_create(owner=owner, name="mine", user=owner)
    other = django_user_model.objects.create_user("other", password="pw-123456789")
    client.force_login(other)
    response = client.delete(reverse("api-token-detail", args=[token.pk]))
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
