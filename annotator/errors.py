"""How errors are answered, in one place.

The API: one DRF exception handler (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``) turns the
services' errors into API errors — Django's ``ValidationError`` → 400, ``Conflict`` (one
of them: someone else decided first) → 409, ``PermissionDenied`` → 403, ``Http404`` → 404 —
and a database outage into a JSON 503, so no API view wraps a service in ``try/except``.

Django's own error views (``handler400`` … ``handler500`` in ``annotator/urls.py``) answer
JSON under ``/api/`` and a page elsewhere (``templates/errors/``). A database outage on a page
is a 503 with a plain page that needs no database (no session, no user, no context processor).

With DEBUG on, Django answers a 404 with its technical page instead of ``handler404``: it lists
every URL pattern (a refused study is a 404 too) and its inline styles are blocked by the
CSP, a console error per page. ``NotFoundPageMiddleware`` answers it with the project's page
then as well; Django's technical 500 page stays (it is what DEBUG is for).
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
DATABASE_UNAVAILABLE = "The database is unavailable, try again."
# What Django raises when the database server is down, restarting or dropped the connection
# (psycopg's errors, wrapped by Django). SQLite's "database is locked" is one too: also "try again".
DATABASE_OUTAGE = (OperationalError, InterfaceError)


class DatabaseUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = DATABASE_UNAVAILABLE
    default_code = "database_unavailable"


class Conflict(DjangoValidationError):
    """A service's refusal because someone else changed the thing first (theirs stands).
    Pages show it like any ``ValidationError``; the API answers 409 with the messages under
    ``detail`` and, when the view has ``conflict_body(request, **kwargs)``, what stands now
    (e.g. the decision that was made first)."""


def validation_error_as_drf(exc: DjangoValidationError) -> serializers.ValidationError:
    """Field errors keep their field names; others are listed under ``detail``."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"detail": exc.messages})


def _conflict_response(exc: Conflict, context) -> Response:
    set_rollback()
    body = {"detail": exc.messages}
    view = context.get("view")
    if hasattr(view, "conflict_body"):
        body.update(view.conflict_body(context["request"], **context.get("kwargs", {})))
    return Response(body, status=409)


def api_exception_handler(exc, context):
    if isinstance(exc, Conflict):
        return _conflict_response(exc, context)
    if isinstance(exc, DjangoValidationError):
        exc = validation_error_as_drf(exc)
    elif isinstance(exc, DATABASE_OUTAGE):
        logger.error("Database unavailable: %s %s", context["request"].method, context["request"].path,
                     exc_info=exc)
        exc = DatabaseUnavailable()
    # DRF's own handler maps Http404 and PermissionDenied, and rolls back ATOMIC_REQUESTS.
    return exception_handler(exc, context)


# -- Django's error views ------------------------------------------------------------------


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def database_unavailable_page() -> HttpResponse:
    # Rendered without the request: a context processor would reach for the session and the user.
    return HttpResponse(loader.render_to_string("errors/database_unavailable.html"), status=503)


def bad_request(request, exception):
    if _is_api(request):
        return _json(400, "Bad request.")
    return defaults.bad_request(request, exception, template_name="errors/400.html")


def permission_denied(request, exception):
    if _is_api(request):
        return _json(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception, template_name="errors/403.html")


def page_not_found(request, exception):
    if _is_api(request):
        return _json(404, "Not found.")
    return defaults.page_not_found(request, exception, template_name="errors/404.html")


def server_error(request):
    """Any exception a view or a middleware did not handle (with DEBUG off)."""
    if isinstance(sys.exc_info()[1], DATABASE_OUTAGE):
        if _is_api(request):
            return _json(503, DATABASE_UNAVAILABLE)
        return database_unavailable_page()
    if _is_api(request):
        return _json(500, "Server error.")
    return defaults.server_error(request, template_name="errors/500.html")


class NotFoundPageMiddleware:
    """With DEBUG on, a 404 answered by ``page_not_found`` as with DEBUG off, instead of Django's
    technical 404 page: a view's ``Http404`` (``process_exception``), and a path no URL pattern
    matches (no ``resolver_match``: Django's handler has already made the technical page, this
    replaces it). Does nothing with DEBUG off. After the authentication middleware, so that the
    page is rendered for the user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and request.resolver_match is None:
            return page_not_found(request, Http404())
        return response

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
