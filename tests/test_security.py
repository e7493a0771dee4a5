"""Accounts and deployment (issue 18, defects 7 and 8): sign-in throttling on the
page and the token endpoint (django-axes) and tokens that expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.factories import PASSWORD, MembershipFactory, StudyFactory, UserFactory

LOGIN = "/accounts/login/"
TOKEN = "/api/auth/token/"
LIMIT = 10  # the default TAXONOMIST_LOGIN_FAILURE_LIMIT
JSON = "application/json"


@pytest.fixture
def user(db):
    return UserFactory(username="ana")


def sign_in(client, username, password, address="127.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def token_request(client, username, password, address="127.0.0.1"):
    return client.post(TOKEN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- sign-in throttling: the page -----------------------------------------------------------


def test_the_defaults_are_ten_failures_and_a_fifteen_minute_wait(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.AXES_RESET_ON_SUCCESS is False


def test_below_the_limit_the_right_password_still_signs_in(client, user):
    for _ in range(LIMIT - 1):
        response = sign_in(client, "ana", "wrong")
        assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    assert sign_in(client, "ana", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_page_locks_a_user_out_after_the_limit_even_with_the_right_password(client, user):
    for _ in range(LIMIT - 1):
        sign_in(client, "ana", "wrong")
    locked = sign_in(client, "ana", "wrong")  # the failure that reaches the limit
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text and "Try again in 15 minutes" in locked.text
    assert locked["Retry-After"] == "900"
    assert '<form method="post"' in locked.text and 'value="ana"' in locked.text  # the sign-in page again

    right = sign_in(client, "ana", PASSWORD)
    assert right.status_code == 429 and "Too many failed sign-ins" in right.text
    assert not signed_in(client)


def test_one_username_is_locked_whatever_the_address(client, user):
    """Per user: failures spread over many addresses still lock the account."""
    for n in range(LIMIT):
        sign_in(client, "ana", "wrong", address=f"198.51.100.{n}")
    assert sign_in(client, "ana", PASSWORD, address="203.0.113.7").status_code == 429
    assert not signed_in(client)


def test_one_address_is_locked_whatever_the_username(client, user):
    """Per address: guessing across many usernames locks the address, not those users elsewhere."""
    UserFactory(username="bo")
    for n in range(LIMIT):
        sign_in(client, f"guess{n}", "wrong", address="198.51.100.9")
    assert sign_in(client, "bo", PASSWORD, address="198.51.100.9").status_code == 429
    assert not signed_in(client)
    assert sign_in(client, "bo", PASSWORD, address="203.0.113.7").status_code == 302
    assert signed_in(client)


def test_the_lock_ends_after_the_cool_off(client, user):
    for _ in range(LIMIT):
        sign_in(client, "ana", "wrong")
    assert sign_in(client, "ana", PASSWORD).status_code == 429
    # Sixteen minutes later (the attempt just made while locked out counted too).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "ana", PASSWORD).status_code == 302
    assert signed_in(client)


def test_an_admin_unlocks_a_username_with_the_management_command(client, user):
    for _ in range(LIMIT):
        sign_in(client, "ana", "wrong")
    assert sign_in(client, "ana", PASSWORD).status_code == 429
    call_command("axes_reset_username", "ana")
    assert sign_in(client, "ana", PASSWORD).status_code == 302


def test_with_no_cool_off_only_an_admin_unlocks(client, user, settings):
    settings.AXES_COOLOFF_TIME = None
    for _ in range(LIMIT):
        sign_in(client, "ana", "wrong")
    locked = sign_in(client, "ana", PASSWORD)
    assert locked.status_code == 429 and "until an administrator unlocks it" in locked.text
    assert "Retry-After" not in locked


# --- sign-in throttling: the token endpoint --------------------------------------------------


def test_the_token_endpoint_locks_out_after_the_limit_with_a_429(client, user):
    for _ in range(LIMIT - 1):
        response = token_request(client, "ana", "wrong")
        assert response.status_code == 400 and "token" not in response.json()
    locked = token_request(client, "ana", "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.json()["detail"]
    assert locked["Retry-After"] == "900"

    right = token_request(client, "ana", PASSWORD)
    assert right.status_code == 429 and "token" not in right.json()
    assert not Token.objects.exists()


def test_the_token_endpoint_throttles_json_requests_and_by_address_too(client, user):
    for n in range(LIMIT):
        client.post(TOKEN, {"username": f"guess{n}", "password": "x"}, content_type=JSON, REMOTE_ADDR="198.51.100.9")
    locked = client.post(TOKEN, {"username": "ana", "password": PASSWORD}, content_type=JSON,
                         REMOTE_ADDR="198.51.100.9")
    assert locked.status_code == 429 and "token" not in locked.json()
    elsewhere = client.post(TOKEN, {"username": "ana", "password": PASSWORD}, content_type=JSON,
                            REMOTE_ADDR="203.0.113.7")
    assert elsewhere.status_code == 200 and elsewhere.json()["token"]


def test_failures_on_the_page_and_the_token_endpoint_add_up(client, user):
    for _ in range(LIMIT // 2):
        sign_in(client, "ana", "wrong")
    for _ in range(LIMIT - LIMIT // 2):
        token_request(client, "ana", "wrong")
    assert token_request(client, "ana", PASSWORD).status_code == 429
    assert sign_in(client, "ana", PASSWORD).status_code == 429


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(settings):
    """TAXONOMIST_PROXY_COUNT=1: X-Forwarded-For's client, not the proxy; a forged
    entry put before it does not become the address."""
    from axes.helpers import get_client_ip_address
    from django.test import RequestFactory

    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    settings.AXES_IPWARE_PROXY_COUNT = 0
    factory = RequestFactory()
    proxied = factory.post(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert get_client_ip_address(proxied) == "203.0.113.7"
    forged = factory.post(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    assert get_client_ip_address(forged) != "198.51.100.1"


# --- token expiry --------------------------------------------------------------------------------


def age(token: Token, hours: float) -> Token:
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(hours=hours))
    token.refresh_from_db()
    return token


def test_a_valid_token_is_given_again_with_its_expiry(client, user, settings):
    settings.TAXONOMIST_TOKEN_TTL_HOURS = 720
    first = token_request(client, "ana", PASSWORD).json()
    again = token_request(client, "ana", PASSWORD).json()
    token = Token.objects.get(user=user)
    assert first["token"] == again["token"] == token.key
    assert again["expires"] == (token.created + timedelta(hours=720)).isoformat().replace("+00:00", "Z")


def test_an_expired_token_answers_401_and_the_token_endpoint_renews_it(client, user, settings):
    settings.TAXONOMIST_TOKEN_TTL_HOURS = 24
    MembershipFactory(study=StudyFactory(slug="s"), user=user, is_owner=True)
    old = age(Token.objects.create(user=user), 25)

    refused = client.get("/api/studies/", headers={"Authorization": f"Token {old.key}"})
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"] and "/api/auth/token/" in refused.json()["detail"]
    assert refused["WWW-Authenticate"] == "Token"

    # Renewing while still sending the expired token works.
    renewed = client.post(TOKEN, {"username": "ana", "password": PASSWORD},
                          headers={"Authorization": f"Token {old.key}"})
    assert renewed.status_code == 200
    new_key = renewed.json()["token"]
    assert new_key != old.key
    assert client.get("/api/studies/", headers={"Authorization": f"Token {new_key}"}).status_code == 200
    assert client.get("/api/studies/", headers={"Authorization": f"Token {old.key}"}).status_code == 401


def test_a_token_just_inside_its_lifetime_works(client, user, settings):
    settings.TAXONOMIST_TOKEN_TTL_HOURS = 24
    token = age(Token.objects.create(user=user), 23.9)
    assert client.get("/api/studies/", headers={"Authorization": f"Token {token.key}"}).status_code == 200


def test_with_no_lifetime_a_token_never_expires(client, user, settings):
    settings.TAXONOMIST_TOKEN_TTL_HOURS = 0
    token = age(Token.objects.create(user=user), 24 * 365 * 10)
    assert client.get("/api/studies/", headers={"Authorization": f"Token {token.key}"}).status_code == 200
    response = token_request(client, "ana", PASSWORD).json()
    assert response == {"token": token.key, "expires": None}


def test_the_schema_documents_the_token_endpoint():
    from drf_spectacular.generators import SchemaGenerator

    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"][TOKEN]["post"]
    assert {"200", "400", "429"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"][JSON]["schema"]["$ref"].endswith("/TokenOutput")
