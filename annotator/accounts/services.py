"""Writes to API tokens."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from .selectors import token_is_expired


@transaction.atomic
def token_obtain(*, user) -> Token:
    """The user's token: the one they have while it is valid, else a new one (a new key)."""
    # Locked, so that two requests renewing at once do not both delete and create.
    token, created = Token.objects.select_for_update().get_or_create(user=user)
    if not created and token_is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token
