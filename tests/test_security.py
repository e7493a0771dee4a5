"""Accounts and deployment (issue 18, defects 7 and 8): sign-in throttling on the
page and the token endpoint (django-axes), tokens that expire, the production
settings (``check --deploy``, docker-compose.yml, HTTPS, JSON-only API) and uploads
refused from their declared length before the body is read."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotator.jobs.models import Job
from tests.factories import PASSWORD, MembershipFactory, StudyFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
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


# --- uploads refused from their declared length ----------------------------------------------


@pytest.fixture
def owner_client(client, db):
    owner = MembershipFactory(study=StudyFactory(slug="big"), is_owner=True).user
    client.force_login(owner)
    return client


HUGE = 10**12  # a terabyte declared; the body sent is a few bytes


def post_declaring(client, path, length=HUGE, **extra):
    # The test client's fake input refuses to read past what was sent: a 413 here means
    # the body was never read.
    return client.generic("POST", path, b"tiny", content_type="multipart/form-data; boundary=x",
                          CONTENT_LENGTH=str(length), **extra)


def test_an_upload_declared_over_the_limit_is_refused_on_the_page_before_it_is_read(owner_client):
    response = post_declaring(owner_client, "/studies/big/imports/")
    assert response.status_code == 413
    assert "over the 537 MB limit" in response.text and "import_stackexchange" in response.text
    assert 'href="/studies/big/imports/"' in response.text
    assert not Job.objects.exists()


def test_an_upload_declared_over_the_limit_is_refused_by_the_api_and_to_htmx(owner_client):
    api = post_declaring(owner_client, "/api/studies/big/imports/")
    assert api.status_code == 413 and "over the 537 MB limit" in api.json()["files"][0]
    htmx = post_declaring(owner_client, "/studies/big/imports/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 413 and htmx["Content-Type"].startswith("text/plain")
    assert htmx.text.startswith("The upload is 1000000 MB, over the 537 MB limit")


def test_the_declared_length_limit_follows_the_setting(owner_client, settings):
    settings.TAXONOMIST_MAX_UPLOAD_BYTES = 1_000_000
    assert post_declaring(owner_client, "/studies/big/imports/", length=1_000_000 + 64 * 1024 + 1).status_code == 413
    # Within the allowance for the form's other fields the body is read (and is malformed here).
    assert post_declaring(owner_client, "/studies/big/imports/", length=4).status_code != 413


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_status(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_gunicorn_answers_413_at_once_and_its_worker_is_free(tmp_path):
    """The production server, one sync worker: a request declaring 1 TB with a few bytes sent
    is answered without waiting for the body, and the worker takes the next request at once."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env |= {"TAXONOMIST_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "annotator.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--timeout", "120"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the master and its worker end together
    )
    sockets = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        head = (f"POST /studies/x/imports/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: {HUGE}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                # With a CSRF cookie, as a browser has: CsrfViewMiddleware then reads the form.
                f"Cookie: csrftoken={'a' * 32}\r\n\r\n").encode()
        # The start of a file part: a server reading the body would wait here for the rest.
        start = b'--x\r\nContent-Disposition: form-data; name="files"; filename="Posts.xml"\r\n\r\n<?xml'
        started = time.monotonic()
        for _ in range(2):
            # The first connection stays open, its body unsent: a worker still reading it
            # could not answer the second.
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            sockets[-1].sendall(head + start)
            assert read_status(sockets[-1]) == "HTTP/1.1 413 Request Entity Too Large"
        assert time.monotonic() - started < 10
    finally:
        for sock in sockets:
            sock.close()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


# --- production settings -------------------------------------------------------------------------

COMPOSE = ROOT / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def compose_environment(service: str, given: dict[str, str]) -> dict[str, str]:
    """A service's environment as docker compose would give it: ``${X:-default}`` from ``given``
    or its default, ``${X:?message}`` required from ``given``."""

    def substitute(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        if kind == "?":
            raise AssertionError(f"docker compose would refuse to start: {rest}")
        return rest if kind == "-" else ""

    environment = yaml.safe_load(COMPOSE.read_text())["services"][service]["environment"]
    return {key: VARIABLE.sub(substitute, str(value)) for key, value in environment.items()}


def a_secret_key() -> str:
    return secrets.token_urlsafe(50)


def django_env(tmp_path, **overrides) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SECURE_", "TAXONOMIST_", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL"))}
    return base | {"TAXONOMIST_DATA_DIR": str(tmp_path)} | overrides


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_docker_compose_is_valid_yaml_with_secure_defaults():
    document = yaml.safe_load(COMPOSE.read_text())
    assert {"postgres", "redis", "migrate", "web", "worker"} <= set(document["services"])
    for service in ("migrate", "web", "worker"):
        env = compose_environment(service, {"SECRET_KEY": "k" * 50})
        assert env["TAXONOMIST_PRODUCTION"] == "1"
        assert env["SECURE_SSL_REDIRECT"] == "1"
        assert int(env["SECURE_HSTS_SECONDS"]) >= 31536000
        assert env["SECURE_HSTS_INCLUDE_SUBDOMAINS"] == env["SECURE_HSTS_PRELOAD"] == "1"
        assert env["SECURE_COOKIES"] == "1"
        assert env["SECURE_PROXY_SSL_HEADER"] == "HTTP_X_FORWARDED_PROTO,https"
        assert env["TAXONOMIST_PROXY_COUNT"] == "1"
    # Reachable through the proxy on this host only, never around it.
    assert document["services"]["web"]["ports"] == ["${WEB_BIND:-127.0.0.1}:${PORT:-8000}:8000"]
    with pytest.raises(AssertionError, match="SECRET_KEY"):
        compose_environment("web", {})


def test_check_deploy_has_no_warning_with_the_docker_compose_environment(tmp_path):
    env = compose_environment("web", {"SECRET_KEY": a_secret_key()})
    env["TAXONOMIST_DATA_DIR"] = str(tmp_path)  # /data is the container's volume
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=django_env(tmp_path) | env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_the_defaults_are_turned_off(tmp_path):
    """The check is a real one: the settings above are what silences it."""
    env = django_env(tmp_path, TAXONOMIST_PRODUCTION="1", SECRET_KEY=a_secret_key(), SECURE_SSL_REDIRECT="0",
                     SECURE_HSTS_SECONDS="0", SECURE_COOKIES="0")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from rest_framework.settings import api_settings
client = Client()
plain = client.get("/api/studies/")
proxied = client.get("/api/studies/", headers={"X-Forwarded-Proto": "https", "Accept": "text/html"})
print(json.dumps({
    "debug": settings.DEBUG,
    "renderers": [r.__name__ for r in api_settings.DEFAULT_RENDERER_CLASSES],
    "proxy_header": list(settings.SECURE_PROXY_SSL_HEADER or []),
    "plain": [plain.status_code, plain.headers.get("Location")],
    "proxied": [proxied.status_code, proxied.headers["Content-Type"], proxied.headers.get("Strict-Transport-Security")],
    "cookies_secure": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
}))
"""


def test_production_redirects_to_https_sends_hsts_and_secure_cookies_and_serves_json_only(tmp_path):
    env = django_env(tmp_path, DJANGO_SETTINGS_MODULE="annotator.settings")
    env |= compose_environment("web", {"SECRET_KEY": a_secret_key()}) | {"TAXONOMIST_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL")  # no database server: the probe needs none
    env["ALLOWED_HOSTS"] = "testserver"
    result = run_python(PRODUCTION_PROBE, env)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["renderers"] == ["JSONRenderer"]
    assert probe["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert probe["plain"] == [301, "https://testserver/api/studies/"]
    # Over HTTPS (said by the proxy): HSTS, and JSON even to a browser asking for HTML.
    status, content_type, hsts = probe["proxied"]
    assert (status, content_type) == (406, JSON)  # no HTML renderer in production
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert probe["cookies_secure"] == [True, True]


def test_production_settings_follow_the_environment(tmp_path):
    env = django_env(tmp_path, DJANGO_SETTINGS_MODULE="annotator.settings", TAXONOMIST_PRODUCTION="1",
                     SECRET_KEY=a_secret_key(), SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60",
                     SECURE_HSTS_PRELOAD="0", TAXONOMIST_LOGIN_FAILURE_LIMIT="3",
                     TAXONOMIST_LOGIN_COOLOFF_MINUTES="0", TAXONOMIST_LOGIN_LOCKOUT_PARAMETERS="username,ip_address+username",
                     TAXONOMIST_TOKEN_TTL_HOURS="2", TAXONOMIST_BROWSABLE_API="1")
    code = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps([settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_PRELOAD,
                  settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, hasattr(settings, "SECURE_PROXY_SSL_HEADER")
                  and settings.SECURE_PROXY_SSL_HEADER, settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME,
                  settings.AXES_LOCKOUT_PARAMETERS, settings.TAXONOMIST_TOKEN_TTL_HOURS,
                  settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"][-1]]))
"""
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        False, 60, False, True, None, 3, None, ["username", ["ip_address", "username"]], 2,
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]


@pytest.mark.parametrize("key", ["", "too-short-" * 4, "django-insecure-" + "x" * 60, "ab" * 30])
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path, key):
    env = django_env(tmp_path, DJANGO_SETTINGS_MODULE="annotator.settings", TAXONOMIST_PRODUCTION="1", SECRET_KEY=key)
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_malformed_setting_is_refused_with_its_name(tmp_path):
    env = django_env(tmp_path, DJANGO_SETTINGS_MODULE="annotator.settings", SECURE_HSTS_SECONDS="a year")
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0 and "SECURE_HSTS_SECONDS must be a whole number" in result.stderr


def test_the_browsable_api_is_on_in_development(client, user):
    client.force_login(user)
    response = client.get("/api/studies/", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
