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
accepted and then closed with 4401, so a client can tell "log in again" apart.

An open socket is closed with 4401 once its credential dies: a token rotated or revoked, a
session logged out, a user deactivated or given a new password (``core.sessions``). It is
checked again at each frame the client sends, and before frames go out to the client (at most
once every ``RECHECK_SECONDS``), so it neither acts nor goes on receiving.
"""

import re
import time
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from core.authentication import claims_token
from core.sessions import asession_valid
from core.tokens import auser_id_for_token, parse_authorization

UNAUTHENTICATED_CLOSE_CODE = 4401
RECHECK_SECONDS = 1.0  # how old the last credential check may be when a frame goes out to the client

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


class _CredentialCheck:
    """Closes a socket with 4401 once the credential that opened it dies.

    ``still_valid`` (a coroutine function) is asked before every frame the client sends reaches the
    consumer, and before a frame goes out to the client when the last answer is older than
    ``RECHECK_SECONDS``: a revoked token or an ended session neither acts nor goes on receiving.
    After the close, the consumer's further frames are dropped.
    """

    def __init__(self, still_valid):
        self.still_valid = still_valid
        self.checked_at = time.monotonic()
        self.closed = False

    async def _valid(self) -> bool:
        valid = await self.still_valid()
        self.checked_at = time.monotonic()
        return valid

    async def _close(self, send) -> None:
        self.closed = True
        await send({"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE})

    def wrap(self, receive, send):
        async def checked_receive():
            message = await receive()
            if message["type"] == "websocket.receive" and (self.closed or not await self._valid()):
                if not self.closed:
                    await self._close(send)
                return {"type": "websocket.disconnect", "code": UNAUTHENTICATED_CLOSE_CODE}
            return message

        async def checked_send(message):
            if self.closed:
                return
            if (message["type"] == "websocket.send" and time.monotonic() - self.checked_at >= RECHECK_SECONDS
                    and not await self._valid()):
                await self._close(send)
                return
            await send(message)

        return checked_receive, checked_send


def _token_check(key: str, user_id: int) -> _CredentialCheck:
    async def still_valid() -> bool:
        return await auser_id_for_token(key) == user_id

    return _CredentialCheck(still_valid)


def _session_check(scope, user_id: int) -> _CredentialCheck | None:
    session = scope.get("session")
    session_key = getattr(session, "session_key", None) if session is not None else None
    if not session_key:
        return None
    opened_at = time.time()

    async def still_valid() -> bool:
        return await asession_valid(session_key, user_id, opened_at)

    return _CredentialCheck(still_valid)


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
        check = _token_check(key, user.pk) if key is not None else _session_check(scope, user.pk)
        if check is not None:
            receive, send = check.wrap(receive, send)
        return await self.inner(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - reads like the middleware classes it wraps
    """Origin check and authentication (token, else session cookie) for every socket route."""
    return AuthMiddlewareStack(_RequireUser(inner))
