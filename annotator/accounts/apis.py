"""The token endpoint: throttled by django-axes, and it renews an expired token."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response

from .lockout import lockout_message, lockout_wait_seconds
from .selectors import token_expires_at
from .services import token_obtain


class TokenObtainApi(ObtainAuthToken):
    # No authentication: a client renewing its token may still send the expired one.
    authentication_classes = []

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenOutput"

        token = serializers.CharField()
        expires = serializers.DateTimeField(allow_null=True, help_text="null: the token never expires")

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(description="Too many failed sign-ins for this username or address."),
        },
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            # authenticate() told axes about the request (this DRF request) and axes flagged it.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=lockout_wait_seconds(request), detail=lockout_message(request))
            raise ValidationError(serializer.errors)
        token = token_obtain(user=serializer.validated_data["user"])
        return Response(self.OutputSerializer({"token": token.key, "expires": token_expires_at(token)}).data)
