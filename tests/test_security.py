"""Sign-in lockout, API rate limits, token revocation, secret-bearing responses, headers."""

import base64

import pytest
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, RequestFactory
from rest_framework.throttling import SimpleRateThrottle

from models_app import services
from models_app.models import ApiToken

pytestmark = pytest.mark.django_db

MLFLOW_SEARCH = "/api/2.0/mlflow/registered-models/search"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


# Sign-in lockout -------------------------------------------------------------------------
def test_it_locks_a_username_out_after_repeated_failures(client, engineer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for attempt in range(2):
        assert sign_in(client, "alice", "wrong", address=f"10.0.0.{attempt}").status_code == 200
    locked = sign_in(client, "alice", "wrong", address="10.0.0.9")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.text
    assert "Try again in 15 minutes" in locked.text
    # The right password from yet another address is refused while the lockout lasts.
    again = sign_in(client, "alice", "alice-pass-123", address="10.0.0.77")
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_an_address_out_whatever_the_usernames(client, engineer, outsider, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for name in ("mallory", "trent"):
        assert sign_in(client, name, "guess", address="10.9.9.9").status_code == 200
    assert sign_in(client, "carol", "guess", address="10.9.9.9").status_code == 429
    # A real user from that address is refused too; from elsewhere they sign in.
    assert sign_in(client, "eve", "eve-pass-123", address="10.9.9.9").status_code == 429
    response = sign_in(client, "alice", "alice-pass-123", address="10.1.1.1")
    assert response.status_code == 302


def test_a_successful_sign_in_resets_the_count(client, engineer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    sign_in(client, "alice", "wrong")
    sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "alice-pass-123").status_code == 302
    client.logout()
    assert sign_in(client, "alice", "wrong").status_code == 200
    assert sign_in(client, "alice", "alice-pass-123").status_code == 302


def test_the_admin_sign_in_is_locked_out_too(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    url = "/admin/login/?next=/admin/"
    client.post(url, {"username": "admin", "password": "x"}, REMOTE_ADDR="10.2.0.1")
    locked = client.post(url, {"username": "admin", "password": "x"}, REMOTE_ADDR="10.2.0.2")
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.text


def test_mlflow_basic_auth_failures_lock_the_client_out_in_mlflows_shape(engineer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        response = client.get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=basic("alice", "wrong"))
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHENTICATED"
    response = client.get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=basic("alice", "wrong"))
    assert response.status_code == 429
    body = response.json()
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Too many failed sign-in attempts" in body["message"]
    # The right password stays refused, and so does the login page for that user.
    response = client.get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=basic("alice", "alice-pass-123"))
    assert response.status_code == 429
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert sign_in(Client(), "alice", "alice-pass-123", address="10.3.3.3").status_code == 429


def test_mlflow_basic_auth_with_the_right_password_still_works(engineer):
    response = Client().get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=basic("alice", "alice-pass-123"))
    assert response.status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_address_lockout(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    for forged in ("1.1.1.1", "2.2.2.2"):
        response = client.post(
            "/login/",
            {"username": f"user-{forged}", "password": "x"},
            REMOTE_ADDR="10.5.5.5",
            HTTP_X_FORWARDED_FOR=forged,
        )
    assert response.status_code == 429


def test_behind_a_proxy_the_address_the_proxy_saw_counts(client, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # Two clients behind one proxy: each keeps its own count whatever it puts on the left.
    for client_address in ("203.0.113.1", "203.0.113.2"):
        response = client.post(
            "/login/",
            {"username": f"user-{client_address}", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"9.9.9.9, {client_address}",
        )
        assert response.status_code == 200
    response = client.post(
        "/login/",
        {"username": "someone", "password": "x"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="8.8.8.8, 203.0.113.1",
    )
    assert response.status_code == 429


def test_authenticating_without_a_request_is_not_counted(engineer, settings):
    settings.AXES_FAILURE_LIMIT = 1
    assert authenticate(username="alice", password="wrong") is None
    assert authenticate(username="alice", password="alice-pass-123") == engineer


# API rate limits -------------------------------------------------------------------------
@pytest.fixture
def rates(monkeypatch):
    """Low API rates for one test (DRF reads them once, at import)."""
    cache.clear()

    def set_rates(**values):
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, **values}
        )

    yield set_rates
    cache.clear()


def test_the_api_rate_limit_counts_per_token(rates, engineer):
    rates(token="3/min")
    _, first = services.token_create(owner=engineer, name="a", user=None)
    _, second = services.token_create(owner=engineer, name="b", user=None)
    client = Client()
    for _ in range(3):
        assert (
            client.get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
        )
    response = client.get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Another token of the same user has its own allowance.
    assert client.get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_the_mlflow_api_shares_the_limit_and_answers_in_its_shape(rates, engineer):
    rates(token="2/min")
    _, secret = services.token_create(owner=engineer, name="a", user=None)
    client = Client()
    for _ in range(2):
        assert client.get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    response = client.get(MLFLOW_SEARCH, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 429
    assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert int(response["Retry-After"]) > 0


def test_anonymous_callers_have_their_own_limit(rates):
    rates(anon="2/min")
    client = Client()
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/schema/").status_code == 429


def test_a_rate_can_be_switched_off(rates, engineer):
    rates(token=None)
    _, secret = services.token_create(owner=engineer, name="a", user=None)
    for _ in range(5):
        response = Client().get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 200


def test_the_rate_settings_read_the_environment(monkeypatch):
    from registry_site.settings import envrate

    monkeypatch.setenv("API_RATE_LIMIT", "off")
    assert envrate("API_RATE_LIMIT", "3000/min") is None
    monkeypatch.setenv("API_RATE_LIMIT", "10/s")
    assert envrate("API_RATE_LIMIT", "3000/min") == "10/s"
    monkeypatch.delenv("API_RATE_LIMIT")
    assert envrate("API_RATE_LIMIT", "3000/min") == "3000/min"


def test_the_rates_come_from_settings():
    from django.conf import settings

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) == {"token", "anon"}
    assert (
        "models_app.api.authentication.TokenRateThrottle"
        in (settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"])
    )


# Token revocation ------------------------------------------------------------------------
def active_tokens(user) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()


def test_a_new_password_revokes_the_users_tokens(engineer, outsider):
    services.token_create(owner=engineer, name="a", user=None)
    services.token_create(owner=engineer, name="b", user=None)
    services.token_create(owner=outsider, name="c", user=None)
    engineer.set_password("a-new-secret-456")
    engineer.save()
    assert active_tokens(engineer) == 0
    assert active_tokens(outsider) == 1


def test_a_deactivated_user_loses_their_tokens(engineer):
    _, secret = services.token_create(owner=engineer, name="a", user=None)
    engineer.is_active = False
    engineer.save(update_fields=["is_active"])
    assert active_tokens(engineer) == 0
    engineer.is_active = True
    engineer.save()
    response = Client().get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


def test_changepassword_and_the_admin_revoke_tokens(engineer, admin_client, monkeypatch):
    services.token_create(owner=engineer, name="a", user=None)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-new-secret-456")
    call_command("changepassword", "alice", stdout=open("/dev/null", "w"))
    assert active_tokens(engineer) == 0

    services.token_create(owner=engineer, name="b", user=None)
    response = admin_client.post(
        f"/admin/auth/user/{engineer.pk}/password/",
        {"password1": "another-secret-789", "password2": "another-secret-789"},
    )
    assert response.status_code == 302
    assert active_tokens(engineer) == 0


def test_other_saves_and_a_rehash_at_sign_in_keep_tokens(engineer, settings, client):
    services.token_create(owner=engineer, name="a", user=None)
    engineer.first_name = "Alice"
    engineer.save()
    engineer.save(update_fields=["last_login"])
    # A hasher upgrade at sign-in stores a new hash of the same password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    request = RequestFactory().post("/login/")
    assert authenticate(request, username="alice", password="alice-pass-123") is not None
    engineer.refresh_from_db()
    assert engineer.password.startswith("pbkdf2_sha1$")
    assert active_tokens(engineer) == 1


def test_revoke_all_on_the_tokens_page(client, engineer, outsider):
    services.token_create(owner=engineer, name="a", user=None)
    services.token_create(owner=engineer, name="b", user=None)
    services.token_create(owner=outsider, name="c", user=None)
    client.force_login(engineer)
    page = client.get("/tokens/")
    assert "Revoke all 2 active tokens" in page.text
    assert "revokes all your tokens" in page.text
    response = client.post("/tokens/", {"revoke_all": "1"}, follow=True)
    assert "2 tokens revoked." in response.text
    assert active_tokens(engineer) == 0
    assert active_tokens(outsider) == 1


def test_revoke_all_is_only_for_ones_own_tokens(engineer, outsider):
    from django.core.exceptions import PermissionDenied

    services.token_create(owner=engineer, name="a", user=None)
    with pytest.raises(PermissionDenied):
        services.tokens_revoke_all(owner=engineer, user=outsider)
    assert active_tokens(engineer) == 1


# Responses that carry a secret -----------------------------------------------------------
def test_the_tokens_page_is_never_cached(client, engineer):
    client.force_login(engineer)
    assert "no-store" in client.get("/tokens/")["Cache-Control"]
    response = client.post("/tokens/", {"name": "ci"}, follow=True)  # the page shown once
    assert "mr_" in response.text
    assert "no-store" in response["Cache-Control"]


def test_the_api_sends_a_new_secret_with_no_store(client, engineer):
    client.force_login(engineer)
    response = client.post("/api/v1/tokens/", {"name": "ci"}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["token"].startswith("mr_")
    assert "no-store" in response["Cache-Control"]


def test_a_token_made_in_the_admin_is_shown_once_in_the_body_not_in_a_message(
    admin_client, engineer
):
    response = admin_client.post("/admin/models_app/apitoken/add/", {"user": engineer.pk})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=engineer)
    secret = response.context["secret"]
    assert secret.startswith(f"mr_{token.prefix}_")
    assert secret in response.text
    assert "no-store" in response["Cache-Control"]
    assert services.token_authenticate(secret) == token
    # Nothing about it waits in the messages storage (a cookie) for the next page.
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    following = admin_client.get("/admin/models_app/apitoken/")
    assert secret not in following.text
    assert all(secret not in morsel.value for morsel in admin_client.cookies.values())


# Headers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/login/", "/", "/models/", "/tokens/", "/api/docs/"])
def test_pages_send_csp_referrer_policy_and_nosniff(client, engineer, path):
    if path != "/login/":
        client.force_login(engineer)
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_swagger_uis_inline_blocks_carry_the_responses_nonce(client):
    response = client.get("/api/docs/")
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert response.text.count(f'nonce="{nonce}"') == 2
    assert response.text.count("<script") == 3
