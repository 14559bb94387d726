"""WebSocket authentication: ``?token=`` or the session cookie; else close 4401."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

UNAUTHENTICATED_CLOSE_CODE = 4401


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    try:
        return Token.objects.select_related("user").get(key=key).user
    except Token.DoesNotExist:
        return AnonymousUser()


class _RequireUser:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
        if token:
            scope["user"] = await _user_for_token(token)
        user = scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})
            return None
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - reads like the middleware classes it wraps
    """Session auth (cookie) first, then a token from the query string overrides it."""
    return AuthMiddlewareStack(_RequireUser(inner))
