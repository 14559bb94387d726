"""Auth API: register, obtain, rotate and revoke a token."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError, CoreError
from core.openapi import SIGNED_IN, SIGNED_IN_WRITE, error_responses
from core.ratelimit import enforce_credential_limits
from core.services import USERNAME_RULE, token_for, token_revoke, token_rotate, user_register, username_clean


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, help_text=USERNAME_RULE)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate_username(self, value: str) -> str:
        return username_clean(value)


class TokenSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=RegisterSerializer,
        responses={201: inline_serializer("Registered", {
            "id": serializers.IntegerField(), "username": serializers.CharField(), "token": serializers.CharField(),
        }), **error_responses(400, 413, 429)},
        tags=["auth"],
    )
    def post(self, request):
        enforce_credential_limits(request)
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = user_register(**data.validated_data)
        return Response({"id": user.id, "username": user.username, "token": token.key}, status=status.HTTP_201_CREATED)


class ApiTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as 'Authorization: Bearer <token>' (or 'Token <token>').")


class TokenView(APIView):
    """POST: log in for a token (no credentials needed). DELETE: revoke the token in use."""

    def _logging_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        return [] if self._logging_in() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._logging_in() else super().get_permissions()

    @extend_schema(request=TokenSerializer, responses={200: ApiTokenSerializer, **error_responses(400, 413, 429)},
                   tags=["auth"])
    def post(self, request):
        data = TokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enforce_credential_limits(request, data.validated_data["username"])
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise ApplicationError("Wrong username or password.", CoreError.INVALID_CREDENTIALS, status=400)
        return Response({"token": token_for(user).key})

    @extend_schema(
        request=None,
        responses={204: None, **error_responses(*SIGNED_IN_WRITE)},
        tags=["auth"],
        summary="Revoke the token this request uses",
        description="The token stops working at once on the API, WebSockets and every other surface. "
        "With a session instead of a token, the account's token is revoked.",
    )
    def delete(self, request):
        token_revoke(user=request.user, key=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRotateView(APIView):
    @extend_schema(
        request=None,
        responses={200: ApiTokenSerializer, **error_responses(*SIGNED_IN_WRITE)},
        tags=["auth"],
        summary="Replace the account's token with a new one",
        description="The old token stops working at once on the API, WebSockets and every other surface.",
    )
    def post(self, request):
        return Response({"token": token_rotate(user=request.user).key})


class MeView(APIView):
    @extend_schema(
        responses={200: inline_serializer("Me", {"id": serializers.IntegerField(), "username": serializers.CharField()}),
                   **error_responses(*SIGNED_IN)},
        tags=["auth"],
    )
    def get(self, request):
        return Response({"id": request.user.id, "username": request.user.username})
