"""One way from a request to a study, for pages and APIs alike.

``study_access`` is the one function: it returns the caller's access to the study named by
the URL's ``slug`` or raises ``Http404`` (missing and forbidden alike, see
``selectors.study_get_for_user``, which decides). A page declares its rule with
``@study_view(...)``, which also asks for a login and checks the HTTP method, and receives
``access``; an API class takes ``StudyApiMixin`` and calls ``self.get_study_access(...)``
(DRF has already answered 401/403 to an anonymous caller).

The rule is one of:

- ``role``: one role (``Role.OWNER``), or several, any of which will do
  (``(Role.OWNER, Role.ARBITRATOR)``); every member is a viewer;
- ``check``: an app's own rule built on ``study_get_for_user``, called as
  ``check(slug=..., user=..., **options)`` and returning that app's access object (e.g. the
  classifier's, which carries the caller's sight); a ``role`` other than viewer is passed
  on to it.

A page that every member reads and fewer write says so with ``write_role`` (the role a POST
needs), or, with ``check``, ``check_writes=True`` (``write=`` tells the check whether the
request writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.views.decorators.http import require_http_methods

from .models import Role
from .selectors import study_get_for_user

Roles = str | tuple[str, ...]
Check = Callable[..., Any]
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Who reads the arbitration queues (they show every rater's label) and decides the pilot.
REVIEWERS = (Role.OWNER, Role.ARBITRATOR)


def study_access(request, slug: str, *, role: Roles = Role.VIEWER, check: Check | None = None, **options) -> Any:
    """The caller's access to study ``slug`` under ``role`` or ``check`` (module docstring), or 404."""
    if check is not None:
        if role != Role.VIEWER:
            options["role"] = role
        return check(slug=slug, user=request.user, **options)
    if isinstance(role, str):
        return study_get_for_user(slug=slug, user=request.user, role=role)
    access = study_get_for_user(slug=slug, user=request.user)
    if not any(access.can(one) for one in role):
        raise Http404("No such study.")
    return access


def study_view(role: Roles = Role.VIEWER, *, write_role: Roles | None = None, check: Check | None = None,
               check_writes: bool = False, methods: Iterable[str] | None = None, **options):
    """A page under ``/studies/<slug>/``: login (else the login page), then ``methods`` (else
    405), then ``study_access`` (else 404); the view is called with ``access=`` besides its URL's
    arguments."""

    def decorate(view):
        @wraps(view)
        def with_access(request, slug, *args, **kwargs):
            writes = request.method not in SAFE_METHODS
            rule = {**options, "write": writes} if check_writes else options
            needed = write_role if writes and write_role is not None else role
            access = study_access(request, slug, role=needed, check=check, **rule)
            return view(request, slug, *args, access=access, **kwargs)

        guarded = require_http_methods(list(methods))(with_access) if methods is not None else with_access
        return login_required(guarded)

    return decorate


class StudyApiMixin:
    """For a DRF view under ``/api/studies/<slug>/``: ``self.get_study_access(...)`` is
    ``study_access`` for this request and slug."""

    def get_study_access(self, role: Roles = Role.VIEWER, *, check: Check | None = None, **options) -> Any:
        return study_access(self.request, self.kwargs["slug"], role=role, check=check, **options)
