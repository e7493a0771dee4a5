"""The error pages are the project's (templates/errors/), with DEBUG on too: Django's technical
404 page lists every URL pattern to anyone (a study one may not see is a 404 as well) and its
inline styles are blocked by the CSP. Its technical 500 page stays with DEBUG on."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

from annotator.errors import server_error
from annotator.urls import urlpatterns as project_patterns
from tests.factories import MembershipFactory, StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _forbidden(request):
    raise PermissionDenied("Only an owner may do this.")


def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("forbidden/", _forbidden), path("broken/", _broken), *project_patterns]
handler403 = "annotator.errors.permission_denied"
handler404 = "annotator.errors.page_not_found"
handler500 = "annotator.errors.server_error"


@pytest.fixture
def member(client):
    study = StudyFactory(slug="mine")
    user = UserFactory()
    MembershipFactory(study=study, user=user, is_rater=True)
    StudyFactory(slug="theirs")
    client.force_login(user)
    return client


def _is_project_page(response, heading: str) -> str:
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert f"<h1>{heading}</h1>" in text and "/static/css/app.css" in text, text[:500]
    assert "URLconf" not in text and "style=" not in text and "<style" not in text
    return text


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("url", ["/no-such-page/", "/studies/theirs/", "/studies/mine/draws/999/"])
def test_a_404_is_the_project_page_with_debug_on_or_off(member, settings, debug, url):
    settings.DEBUG = debug
    response = member.get(url)
    assert response.status_code == 404
    text = _is_project_page(response, "Page not found")
    assert f"<code>{url}</code>" in text


def test_an_unknown_api_path_stays_json_with_debug_on(member, settings):
    settings.DEBUG = True
    response = member.get("/api/no-such-thing/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_a_missing_trailing_slash_still_redirects_with_debug_on(member, settings):
    settings.DEBUG = True
    response = member.get("/studies/mine")
    assert response.status_code == 301 and response["Location"] == "/studies/mine/"


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [True, False])
def test_a_403_is_the_project_page_with_its_reason(member, settings, debug):
    settings.DEBUG = debug
    response = member.get("/forbidden/")
    assert response.status_code == 403
    assert "Only an owner may do this." in _is_project_page(response, "Not allowed")


@pytest.mark.urls(__name__)
def test_a_500_is_the_project_page_with_debug_off_and_django_s_technical_page_with_debug_on(settings, rf):
    settings.DEBUG = True
    technical = Client(raise_request_exception=False).get("/broken/")
    assert technical.status_code == 500 and "RuntimeError" in technical.content.decode()
    settings.DEBUG = False
    response = server_error(rf.get("/broken/"))
    assert response.status_code == 500
    assert "a bug" not in _is_project_page(response, "Something went wrong")
