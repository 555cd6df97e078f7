"""The token endpoint: ``POST /api/v1/auth/token/``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from spasticity.api_tokens import api_token_issue
from spasticity.two_factor import code_matches, confirmed_device, two_factor_required

LOCKED_OUT = "Too many failed sign-ins. Try again later."
BAD_CREDENTIALS = "Unable to log in with provided credentials."


class TokenRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=10,
        required=False,
        help_text="The current code of the user's authenticator app; required when the server has REQUIRE_2FA.",
    )


class TokenResponseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField(
        help_text="When the token ends unless it is used before then (each use extends it, up to a daily maximum)."
    )


DETAIL_RESPONSE = inline_serializer("TokenLockout", {"detail": serializers.CharField()})
ERRORS_RESPONSE = inline_serializer(
    "TokenErrors",
    {
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
        "username": serializers.ListField(child=serializers.CharField(), required=False),
        "password": serializers.ListField(child=serializers.CharField(), required=False),
        "otp": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


def second_factor_errors(user: User, code: str | None) -> dict[str, list[str]]:
    """The token endpoint's 2FA check: empty when the code is right or 2FA is off."""
    if not two_factor_required():
        return {}
    device = confirmed_device(user)
    if device is None:
        return {"otp": ["This account has no two-factor device yet: sign in to the web app once to enrol one."]}
    if not code:
        return {"otp": ["Send the current code of your authenticator app."]}
    if not code_matches(device, code):
        return {"otp": ["That code is not right, or it was already used."]}
    return {}


class TokenView(APIView):
    """``POST /api/v1/auth/token/ {"username", "password"[, "otp"]}`` → ``{"token", "expiry"}``.

    Sign-in failures count towards django-axes' lockout, as on the login page, and a locked-out
    client gets 429. The parsers are the API's defaults, which refuse hostile bodies.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(ERRORS_RESPONSE, description="Wrong credentials, or a missing or wrong code."),
            429: OpenApiResponse(DETAIL_RESPONSE, description="Locked out after too many failed sign-ins."),
        },
        auth=[],
        summary="Get an API token",
    )
    def post(self, request: Request) -> Response:
        entered = TokenRequestSerializer(data=request.data)
        entered.is_valid(raise_exception=True)
        data = entered.validated_data
        # django-axes marks a locked-out client on the request it is handed (here DRF's).
        user = authenticate(request, username=data["username"], password=data["password"])
        if getattr(request, "axes_locked_out", False):
            return Response({"detail": LOCKED_OUT}, status=429)
        if user is None:
            return Response({"non_field_errors": [BAD_CREDENTIALS]}, status=400)
        errors = second_factor_errors(user, data.get("otp"))  # type: ignore[arg-type]
        if errors:
            return Response(errors, status=400)
        instance, token = api_token_issue(user=user)  # type: ignore[arg-type]
        # Axes resets the user's failures and logs the sign-in; Django records last_login.
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response(TokenResponseSerializer({"token": token, "expiry": instance.expiry}).data)
