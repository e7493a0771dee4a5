"""Reads about API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token


def token_expires_at(token: Token) -> datetime | None:
    """When ``token`` stops working (``TAXONOMIST_TOKEN_TTL_HOURS`` after it was made); None: never."""
    hours = settings.TAXONOMIST_TOKEN_TTL_HOURS
    if hours <= 0:
        return None
    return token.created + timedelta(hours=hours)


def token_is_expired(token: Token) -> bool:
    expires = token_expires_at(token)
    return expires is not None and expires <= timezone.now()
