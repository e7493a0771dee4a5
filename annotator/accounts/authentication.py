"""Token authentication that refuses a token older than ``TAXONOMIST_TOKEN_TTL_HOURS``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from annotator.prepared import Prepared, columns, instance

from .selectors import token_is_expired

TOKEN_EXPIRED = "This token has expired: POST your username and password to /api/auth/token/ for a new one."


# Every API request reads this: prepared, as compiling it cost more than running it. The token
# with its user whole, as DRF's TokenAuthentication reads them (select_related).
_TOKEN_WITH_USER = Prepared(
    lambda *, key: Token.objects.filter(key=key).values(*columns(Token), *columns(get_user_model(), "user__")),
    key=str)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        """DRF's, on the prepared query; and a token past its time is refused."""
        rows = _TOKEN_WITH_USER.rows(key=key)
        if not rows:
            raise AuthenticationFailed(_("Invalid token."))
        token = instance(Token, rows[0])
        token.user = user = instance(get_user_model(), rows[0], prefix="user__")
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if token_is_expired(token):
            raise AuthenticationFailed(TOKEN_EXPIRED, code="token_expired")
        return user, token
