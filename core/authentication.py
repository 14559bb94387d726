"""DRF authentication through the project's one token check (core.tokens).

``Authorization: Token <key>`` and ``Authorization: Bearer <key>`` both work; the
same check serves WebSockets (core.ws_auth) and the hot ASGI handlers.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from core import tokens


def claims_token(header: str) -> bool:
    """Whether an Authorization header uses a token scheme (well-formed or not)."""
    parts = header.split(None, 1)
    return bool(parts) and parts[0].lower() in tokens.SCHEMES


class TokenAuthentication(BaseAuthentication):
    """``request.user`` is the token's active owner and ``request.auth`` the key itself."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not claims_token(header):
            return None  # no credentials, or another scheme: let other authenticators try
        key = tokens.parse_authorization(header)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: use 'Bearer <token>'.")
        user_id = tokens.user_id_for_token(key)
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ``TokenAuthentication``."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The API token from POST /api/v1/auth/token, as 'Bearer <token>' "
            "('Token <token>' works too).",
        }
