"""What a user locked out by django-axes is told: one message for the sign-in page,
the admin's and the token endpoint."""

from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from axes.helpers import get_cool_off

LOCKOUT_STATUS = 429


def lockout_wait_seconds(request: HttpRequest) -> int | None:
    """How long a locked-out client waits; None when only an administrator can unlock it."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else None


def lockout_message(request: HttpRequest) -> str:
    reason = "Too many failed sign-ins for this account or from this address."
    seconds = lockout_wait_seconds(request)
    if seconds is None:
        return f"{reason} Signing in is locked until an administrator unlocks it."
    minutes = max(1, round(seconds / 60))
    # Axes counts an attempt made while locked out as one more failure.
    return (
        f"{reason} Try again in {minutes} minute{'s' if minutes != 1 else ''} "
        "(every attempt before then starts the wait again), or ask an administrator to unlock it."
    )


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the sign-in page again, with the reason, as 429 (JSON under /api/)."""
    message = lockout_message(request)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=LOCKOUT_STATUS)
    else:
        username = (credentials or {}).get("username") or request.POST.get("username", "")
        # Unbound: a bound form would authenticate once more to show its errors.
        form = AuthenticationForm(request, initial={"username": username})
        context = {"form": form, "lockout_message": message, "next": request.POST.get("next", "")}
        response = render(request, "registration/login.html", context, status=LOCKOUT_STATUS)
    seconds = lockout_wait_seconds(request)
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response
