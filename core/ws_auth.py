"""WebSocket authentication and origin checks, in front of every socket route.

Credentials, in this order:
- a token: an ``Authorization: Token|Bearer <key>`` header or ``?token=<key>`` (``?access_token=``), checked by
  ``core.tokens`` (the one token check of the API and the hot handlers too);
- else the session cookie.

Origin (cross-site WebSocket hijacking): browsers always send ``Origin``, and only a
browser sends the session cookie by itself, so
- a present ``Origin`` must be allowed (``origin_allowed``), whatever the credentials;
- a socket without ``Origin`` is accepted only with a token (native apps, bots, scripts).

A route may let sockets without credentials through (``allow_anonymous``): they reach the
consumer as AnonymousUser, which decides (e.g. by a share link's own token); a cookie still
counts only with an allowed Origin, and a wrong token is still refused.

A refused origin fails the handshake (HTTP 403). Missing or wrong credentials are
accepted and then closed with 4401, so a client can tell "log in again" apart. A token
socket is checked again at each frame it sends: once its token is rotated or revoked,
the next frame closes it with 4401 instead of reaching the consumer.
"""

import re
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from core.authentication import claims_token
from core.tokens import auser_id_for_token, parse_authorization

UNAUTHENTICATED_CLOSE_CODE = 4401

_anonymous_paths: list[re.Pattern] = []


def allow_anonymous(path_pattern: str) -> None:
    """Let sockets whose path fully matches ``path_pattern`` (a regex, e.g. ``/ws/x/[0-9]+/``) in
    without credentials; their consumer must check access itself."""
    compiled = re.compile(path_pattern)
    if compiled not in _anonymous_paths:
        _anonymous_paths.append(compiled)


def _anonymous_allowed(scope) -> bool:
    path = scope.get("path", "")
    return any(pattern.fullmatch(path) for pattern in _anonymous_paths)


def origin_allowed(origin: str, host: str | None = None) -> bool:
    """Whether a socket may be opened from a page at ``origin``.

    Allowed: the origin of ``PUBLIC_BASE_URL``; the host the socket was opened on
    (``host``, the Host header) when that host is itself allowed; a host matching
    ``ALLOWED_HOSTS``. A ``*`` in ALLOWED_HOSTS does not allow every origin: only the
    first two rules apply then.
    """
    try:
        parts = urlsplit(origin)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    public = urlsplit(settings.PUBLIC_BASE_URL)
    if (parts.scheme, netloc) == (public.scheme, public.netloc.lower()):
        return True
    domain, _ = split_domain_port(netloc)
    if not domain:
        return False
    if host is not None and netloc == host.lower() and validate_host(domain, settings.ALLOWED_HOSTS):
        return True
    return validate_host(domain, [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"])


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _token(scope) -> str | None:
    header = _header(scope, b"authorization") or ""
    if claims_token(header):
        return parse_authorization(header) or ""  # a malformed token header is a wrong token
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    # ``access_token`` is the name Mastodon's streaming clients use.
    return (query.get("token") or query.get("access_token") or [None])[0]


async def _user_for_token(key: str):
    user_id = await auser_id_for_token(key)
    user = await get_user_model().objects.filter(pk=user_id, is_active=True).afirst() if user_id else None
    return user or AnonymousUser()


async def _refuse_handshake(receive, send) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


async def _close_unauthenticated(receive, send) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})


def _closing_when_revoked(receive, send, key: str, user_id: int):
    async def checked_receive():
        message = await receive()
        if message["type"] == "websocket.receive" and await auser_id_for_token(key) != user_id:
            await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})
            return {"type": "websocket.disconnect", "code": UNAUTHENTICATED_CLOSE_CODE}
        return message

    return checked_receive


class _RequireUser:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if origin is not None and not origin_allowed(origin, _header(scope, b"host")):
            return await _refuse_handshake(receive, send)
        key = _token(scope)
        if key is not None:
            scope["user"] = await _user_for_token(key)
        elif origin is None:
            if _anonymous_allowed(scope):
                scope["user"] = AnonymousUser()  # never the cookie: without an Origin it is no browser page
                return await self.inner(scope, receive, send)
            return await _refuse_handshake(receive, send)  # a cookie without an Origin: not a browser page
        user = scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            if key is None and _anonymous_allowed(scope):
                scope["user"] = AnonymousUser()
                return await self.inner(scope, receive, send)
            return await _close_unauthenticated(receive, send)
        if key is not None:
            receive = _closing_when_revoked(receive, send, key, user.pk)
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - reads like the middleware classes it wraps
    """Origin check and authentication (token, else session cookie) for every socket route."""
    return AuthMiddlewareStack(_RequireUser(inner))
