"""``GET /api/v1/timelines/home`` for token callers, answered on the event loop from Redis.

A warm read costs two round trips on ``core.hotredis`` and no query: core's token check
(``core.tokens``, its Redis-cached table) together with the token's OAuth scopes, then the home
read script (``feed.store.home_read``), which pages and filters the timeline, returns the page's
cached entity parts, counters and the reader's flags, and counts the read against the API rate
limit. The body is spliced from those parts exactly as the view builds its answer
(``feed.entity_json``); the ``Link``, ``X-RateLimit-*`` and other headers, the 401 and the 429
are the view's too: byte for byte, the view's answer.

Handed to Django (``None``), which answers and fills what the next read needs: anything but a
plain ``GET`` with a token, session cookies (a browser: Django applies the session), unusual query
parameters or ``Accept`` values, an app's own token, a token lacking the scope, anything the script
finds missing (a timeline not ready — the rebuild and its 206 are Django's —, an activity touch
due, a status or account not cached, the reader's state not built), and any moment Redis does not
answer.

Authentication is core's token cache alone: a user deactivated by a save (the admin, any service)
stops reading at once (``core.sessions`` drops their cached tokens); one deactivated by a bulk update
that saves nothing, within ``TOKEN_CACHE_TTL``.
"""

from __future__ import annotations

import io
import logging
import time
from functools import cache, lru_cache
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from core import hotredis
from core.asgi import ThrottledLog, host_allowed, send_response
from core.errors import ApplicationError
from core.hotdb import run_db
from core.ids import parse_id
from core.tokens import auser_id_for_token, parse_authorization
from feed import oauth, store
from feed.api.base import link_header
from feed.selectors import DEFAULT_LIMIT, MAX_BATCHES, MAX_LIMIT, PageParams
from feed.services import limits
from feed.store import home_read

logger = logging.getLogger(__name__)
_unavailable_log = ThrottledLog(logger)

HOME_PATH = "/api/v1/timelines/home"
PAGE_PARAMS = frozenset({"max_id", "since_id", "min_id", "limit"})
MAX_QUERY_LENGTH = 256
# Accept values DRF answers with its JSON renderer, unchanged (an ``indent`` parameter would not be).
PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json", "application/json, */*", "application/json,*/*"})
_REDIS_UNAVAILABLE = (ConnectionError, TimeoutError, OSError, hotredis.RespError)
# Request headers Django reads to build an absolute address (scheme and host) for the Link header.
_ADDRESS_HEADERS = frozenset({b"host", b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-proto",
                              b"x-forwarded-ssl", b"forwarded"})
_CACHE_LIMIT = 256


def _query_pairs(raw: bytes) -> list[tuple[str, str]] | None:
    """Only the paging parameters, each at most once, with digit values (Django validates the rest)."""
    if len(raw) > MAX_QUERY_LENGTH:
        return None
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        return None
    names = [name for name, _ in pairs]
    if (len(names) != len(set(names)) or not set(names) <= PAGE_PARAMS
            or not all(value.isascii() and value.isdigit() for _, value in pairs)):
        return None
    return pairs


def _page_params(pairs: list[tuple[str, str]]) -> PageParams | None:
    """``feed.api.base._page_params`` for digit values; None where the view answers 400."""
    values = dict(pairs)
    limit = DEFAULT_LIMIT
    if values.get("limit"):
        limit = max(1, min(int(values["limit"]), MAX_LIMIT))
    ids = {}
    for name in ("max_id", "since_id", "min_id"):
        if values.get(name):
            ids[name] = parse_id(values[name])
            if ids[name] is None:
                return None
    return PageParams(limit=limit, **ids)


def _headers(scope) -> dict[bytes, str]:
    """The first value of each request header, by lower-case name."""
    out: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name not in out:
            out[name] = value.decode("latin-1")
    return out


# --- the view's headers ----------------------------------------------------------------
@cache
def _response_headers() -> list[tuple[bytes, bytes]]:
    """The headers Django's stack puts on the view's JSON answer (DRF, SecurityMiddleware, ours),
    but the Link and rate-limit headers."""
    from django.http import HttpResponse

    from core.middleware import add_security_headers

    response = HttpResponse(content_type="application/json")
    response["Vary"] = "Accept"
    response["Allow"] = "GET, HEAD, OPTIONS"
    response["X-Frame-Options"] = settings.X_FRAME_OPTIONS
    if settings.SECURE_REFERRER_POLICY:
        response["Referrer-Policy"] = settings.SECURE_REFERRER_POLICY
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        response["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    add_security_headers(response)
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]


@lru_cache(maxsize=64)
def _host_allowed(host: str) -> bool:
    return host_allowed(host)


@lru_cache(maxsize=_CACHE_LIMIT)
def _page_address(scheme: str, server, address_headers: tuple) -> str:
    """The absolute address of the page, as the view's ``request.build_absolute_uri`` gives it for
    a request with these scheme, server and address headers (``_ADDRESS_HEADERS``)."""
    from django.core.handlers.asgi import ASGIRequest

    scope = {"type": "http", "method": "GET", "path": HOME_PATH, "root_path": "", "query_string": b"",
             "scheme": scheme, "server": server, "headers": list(address_headers)}
    return ASGIRequest(scope, io.BytesIO()).build_absolute_uri(HOME_PATH)


@receiver(setting_changed)
def _forget_settings(**kwargs) -> None:
    """What is remembered above follows the settings (tests change them)."""
    _response_headers.cache_clear()
    _host_allowed.cache_clear()
    _page_address.cache_clear()


def _limit_headers(state) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in state.headers().items()]


def _render(status: int, data, headers: list) -> tuple[int, bytes, list]:
    from rest_framework.renderers import JSONRenderer

    return status, JSONRenderer().render(data), headers


def _invalid_token() -> tuple[int, bytes, list]:
    from core.authentication import TokenAuthentication
    from core.errors import CoreError, error_body

    challenge = TokenAuthentication().authenticate_header(None).encode("latin-1")
    return _render(401, error_body("Invalid token.", CoreError.AUTHENTICATION_FAILED),
                   [*_response_headers(), (b"www-authenticate", challenge)])


def _rate_limited(error: ApplicationError) -> tuple[int, bytes, list]:
    headers = [*_response_headers(), *_limit_headers(error.limit_state)]
    if retry_after := error.extra.get("retry_after"):
        headers.append((b"retry-after", str(int(retry_after)).encode()))
    return _render(error.status, error.as_dict(), headers)


# --- the page -------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _rate_key(scope: str, window: int) -> tuple[bytes, bytes]:
    return home_read.rate_key_parts(scope, limits.account_identity, window)


async def _home(scope, headers: dict[bytes, str], key: str, pairs, params: PageParams):
    """The view's answer for this reader and page, or None for what Django must answer."""
    now = time.time()
    rule = limits.API
    window, rate_ttl, reset = store.ratelimit_window(rule.period, now=now)
    ascending = params.min_id is not None
    read = None
    for _ in range(3):
        read = await home_read.ahome_read(
            token_key=key, rate_limit=rule.limit, rate_key=_rate_key(rule.scope, window), rate_ttl=rate_ttl,
            lower=params.min_id if ascending else params.since_id, upper=params.max_id, ascending=ascending,
            limit=params.limit, batch=params.limit * 2 + 5, max_batches=MAX_BATCHES)
        if read.kind == home_read.TOKEN:
            # Not in the token cache as a user's: core's token check decides (and caches its answer).
            if await auser_id_for_token(key) is None:
                # An app's own token (client credentials) is Django's to answer; any other is refused here.
                return None if await run_db(oauth.app_token_application_id, key) is not None else _invalid_token()
        elif read.kind == home_read.SCOPES:
            await run_db(oauth.token_scopes, key)  # caches the token's scopes
        else:
            break
    if read.kind not in (home_read.OK, home_read.LIMITED):
        return None
    try:
        state = limits.limit_counted(rule, read.requests, reset, now=now)
    except ApplicationError as error:
        return _rate_limited(error)
    response_headers = [*_response_headers(), *_limit_headers(state)]
    if read.first_id is not None:
        address = tuple((k, v) for k, v in scope.get("headers", ()) if k in _ADDRESS_HEADERS)
        link = link_header(_page_address(scope.get("scheme"), scope.get("server"), address), pairs, read.first_id,
                           read.last_id, "min_id")
        response_headers.append((b"link", link.encode("latin-1")))
    return 200, read.body, response_headers


async def handle_home(scope, receive, send) -> int | None:
    if scope.get("method") != "GET" or scope.get("path") != HOME_PATH or scope.get("root_path"):
        return None
    headers = _headers(scope)
    key = parse_authorization(headers.get(b"authorization", ""))
    if key is None or "sessionid=" in headers.get(b"cookie", ""):
        return None
    if headers.get(b"accept", "").strip() not in PLAIN_ACCEPTS:
        return None
    pairs = _query_pairs(scope.get("query_string", b""))
    params = _page_params(pairs) if pairs is not None else None
    if params is None:
        return None
    if not _host_allowed(headers.get(b"host", "")):
        return None  # Django answers a disallowed Host with its own 400
    try:
        answer = await _home(scope, headers, key, pairs, params)
    except _REDIS_UNAVAILABLE as exc:
        _unavailable_log.failure("feed timeline unavailable on the hot path (%r); handing reads to Django", exc,
                                 exc_info=False)
        return None
    if answer is None:
        return None
    return await send_response(send, *answer)
