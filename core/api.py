"""Auth API: register and obtain a token."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError, CoreError
from core.ratelimit import enforce_credential_limits
from core.services import USERNAME_RULE, token_for, user_register, username_clean


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
        })},
        tags=["auth"],
    )
    def post(self, request):
        enforce_credential_limits(request)
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = user_register(**data.validated_data)
        return Response({"id": user.id, "username": user.username, "token": token.key}, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=TokenSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        tags=["auth"],
    )
    def post(self, request):
        data = TokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        enforce_credential_limits(request, data.validated_data["username"])
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise ApplicationError("Wrong username or password.", CoreError.INVALID_CREDENTIALS, status=400)
        return Response({"token": token_for(user).key})


class MeView(APIView):
    @extend_schema(
        responses={200: inline_serializer("Me", {"id": serializers.IntegerField(), "username": serializers.CharField()})},
        tags=["auth"],
    )
    def get(self, request):
        return Response({"id": request.user.id, "username": request.user.username})
