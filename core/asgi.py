"""The ASGI front: hot routes answered directly, the rest handed to Django/Channels.

A hot handler is ``async def handle(scope, receive, send) -> int | None``: it
returns the HTTP status it answered with, or None to pass the request on (cache
miss, anything unusual), so Django stays the single source of behaviour and the
hot path only ever short-circuits the common case. A handler that raises before
sending anything also passes the request on (logged, counted as status 599 under
``hot:<module>``). Handlers must not read the request body unless they answer.
"""

import json
import logging
import time

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import ApplicationError, error_json, retry_after_headers
from core.metrics import recorder
from core.middleware import RETRY_AFTER_SECONDS
from core.ratelimit import trusted_client_ip
from core.startup import freeze_loaded_objects

logger = logging.getLogger(__name__)


class _TrackedSend:
    """Remembers whether a handler started its response, so a failure can still fall back."""

    __slots__ = ("send", "started")

    def __init__(self, send):
        self.send = send
        self.started = False

    async def __call__(self, message):
        self.started = True
        await self.send(message)


class ThrottledLog:
    """At most one log line per ``interval`` seconds for a failure that repeats on every request
    (Redis down): the first one with its traceback, later ones with the count since the last line."""

    def __init__(self, log: logging.Logger, interval: float = 10.0):
        self.log = log
        self.interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def failure(self, message: str, *args, exc_info: bool = True) -> bool:
        """Log ``message % args`` unless a line went out less than ``interval`` ago; True if logged."""
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return False
        suppressed, self._suppressed, self._last = self._suppressed, 0, now
        suffix = f" ({suppressed} more like it since the last line)" if suppressed else ""
        # A traceback only when the failure is new; a repeat is one line with its count.
        self.log.warning(message + suffix, *args, exc_info=exc_info and not suppressed)
        return True


class HotPathRouter:
    def __init__(self, app, handlers=None):
        self.app = app
        paths = settings.HOT_PATH_HANDLERS if handlers is None else handlers
        # (module name, handler, metrics route): the route's name is made once, not per request.
        self.handlers = [
            (name, import_string(path), f"hot:{name}") for path in paths for name in [path.rsplit(".", 1)[0]]
        ]
        self.failures = {name: ThrottledLog(logger) for name, _, _ in self.handlers}

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        if kind == "http" and self.handlers:
            started = time.perf_counter()
            guarded = _TrackedSend(send)
            for name, handler, route in self.handlers:
                try:
                    status = await handler(scope, receive, guarded)
                except Exception:
                    if guarded.started:
                        raise  # half a response is out: nothing sane left to do
                    # Redis down, a bug in the shortcut…: Django still knows how to answer. One line
                    # per interval, not a traceback per request while Redis is away.
                    self.failures[name].failure("hot path handler %s failed; handing the request to Django", name)
                    recorder.observe(route, scope["method"], 599, time.perf_counter() - started)
                    break
                if status:
                    recorder.observe(route, scope["method"], status, time.perf_counter() - started)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _lifespan(receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                freeze_loaded_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


# --- building blocks of hot handlers ------------------------------------------------------------

def header(scope, name: bytes) -> str:
    """The first value of header ``name`` (lower-case bytes), or ""."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def headers_named(scope, names: frozenset[bytes]) -> dict[bytes, str]:
    """The first value of each header of ``names`` (lower-case bytes) the request has, in one pass
    over its headers; a handler reading several headers reads them this way."""
    found: dict[bytes, str] = {}
    for key, value in scope.get("headers", ()):
        if key in names and key not in found:
            found[key] = value.decode("latin-1")
    return found


def client_ip(scope, forwarded_for: str | None = None) -> str:
    """The caller's address under the same trusted-proxy rule as Django's side (``forwarded_for``:
    the X-Forwarded-For header when the caller has already read it)."""
    client = scope.get("client")
    if forwarded_for is None:
        forwarded_for = header(scope, b"x-forwarded-for")
    return trusted_client_ip(client[0] if client else "", forwarded_for)


def host_allowed(host: str) -> bool:
    """Django's ALLOWED_HOSTS check (Django answers a disallowed Host with its own 400)."""
    from django.http.request import split_domain_port, validate_host

    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None past ``limit`` bytes or when the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


_JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff"),
                 (b"cache-control", b"no-store")]


# What ``core.middleware.outage_response`` adds to its 503, for hot handlers answering one.
OUTAGE_HEADERS = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]


async def send_response(send, status: int, body: bytes, headers: list) -> int:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    return status


async def send_json(send, status: int, payload: dict, extra_headers: list | None = None) -> int:
    return await send_json_bytes(send, status, json.dumps(payload).encode(), extra_headers)


async def send_json_bytes(send, status: int, body: bytes, extra_headers: list | None = None) -> int:
    return await send_response(send, status, body, [*_JSON_HEADERS, *(extra_headers or [])])


async def send_error(send, error: ApplicationError, extra_headers: list | None = None) -> int:
    """The one error body (``core.errors``) for ``error``, with its ``Retry-After`` when it has one."""
    body = error_json(error.message, error.code, **error.extra)
    return await send_json_bytes(send, error.status, body, [*retry_after_headers(error), *(extra_headers or [])])
