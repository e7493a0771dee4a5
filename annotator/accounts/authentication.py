"""Token authentication that refuses a token older than ``TAXONOMIST_TOKEN_TTL_HOURS``."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .selectors import token_is_expired

TOKEN_EXPIRED = "This token has expired: POST your username and password to /api/auth/token/ for a new one."


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise AuthenticationFailed(TOKEN_EXPIRED, code="token_expired")
        return user, token
