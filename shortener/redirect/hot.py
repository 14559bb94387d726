"""The redirect hot path: ``GET|HEAD /<code>`` answered before Django in one Redis round trip.

Answered here: a plain active link (``service.answers_directly``, applied in Lua by the store),
and a code known to be unknown (the 404 page, pre-rendered and anonymous, limited per client IP).
A cache miss is filled here too, on a worker thread through the same selector as Django's view.
Everything else returns None and Django's view (same service, same cache) answers; so does every
request while Redis is unreachable or slow (``core.hotredis`` bounds the wait).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re

import redis
from django.utils.encoding import iri_to_uri

from core import hotredis
from core.asgi import ThrottledLog, client_ip, headers_named, send_response
from core.hotdb import run_db
from core.ratelimit import acheck, rate_limited_error
from shortener import selectors, store
from shortener.redirect.service import (
    CACHE_CONTROL,
    UNKNOWN_CODES,
    VISIT_SENT_SCOPE_KEY,
    counts_as_visit,
    visit_id_for,
)
from shortener.redirect.view import anonymous_not_found_page
from shortener.services.links import is_reserved

logger = logging.getLogger(__name__)
_unavailable_log = ThrottledLog(logger)

_PATH_RE = re.compile(r"^/([A-Za-z0-9_-]{3,32})$")
_REDIS_UNAVAILABLE = (ConnectionError, TimeoutError, OSError, redis.RedisError)
_PAGE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
]
_HEADERS_READ = frozenset({b"accept", b"user-agent", b"referer", b"x-forwarded-for"})


@functools.lru_cache(maxsize=4096)
def _redirect_headers(long_url: str, redirect_type: int) -> tuple[tuple[bytes, bytes], ...]:
    """Location and Cache-Control of a redirect, made once per target (a busy link's every hit)."""
    location = iri_to_uri(long_url).encode("ascii", errors="replace")
    return (b"location", location), (b"cache-control", CACHE_CONTROL[redirect_type].encode())


async def handle(scope, receive, send) -> int | None:
    method = scope.get("method")
    if method not in ("GET", "HEAD") or scope.get("query_string"):
        return None
    match = _PATH_RE.match(scope.get("path", ""))
    if match is None:
        return None
    code = match.group(1)
    request_headers = headers_named(scope, _HEADERS_READ)
    if is_reserved(code) or "json" in request_headers.get(b"accept", ""):
        return None
    user_agent = request_headers.get(b"user-agent", "")
    visit = {
        "referrer": request_headers.get(b"referer", ""),
        "ip": client_ip(scope, request_headers.get(b"x-forwarded-for", "")),
        "user_agent": user_agent,
        "method": method,
        "count": counts_as_visit(method=method, user_agent=user_agent),
        "visit_id": visit_id_for(scope),  # Django's view, if handed this request, records under it too
    }
    # Until an outcome says nothing was recorded, Django's view (if handed this request) must take
    # the click as possibly in Redis already and write it to the database instead.
    scope[VISIT_SENT_SCOPE_KEY] = True
    try:
        outcome = await _redirect(code, visit)
        if outcome.kind != "ok":
            del scope[VISIT_SENT_SCOPE_KEY]
        if outcome.kind == "missing":
            return await _unknown_code(send, method, visit["ip"])
    except _REDIS_UNAVAILABLE as exc:
        # Django's view reads the database and records the click there; no stack trace per request.
        _unavailable_log.failure("redirect cache unavailable (%r); handing requests to Django", exc, exc_info=False)
        return None
    if outcome.kind != "ok":
        return None
    # The click is already recorded: from here on this handler must answer.
    headers = _redirect_headers(outcome.long_url, outcome.redirect_type)
    return await send_response(send, outcome.redirect_type, b"", headers)


async def _unknown_code(send, method: str, ip: str) -> int:
    decision = await acheck(UNKNOWN_CODES, ip, client=hotredis.connection())
    if not decision.allowed:
        error = rate_limited_error(decision)
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"),
                   (b"retry-after", str(error.extra["retry_after"]).encode())]
        return await send_response(send, error.status, error.message.encode(), headers)
    page = anonymous_not_found_page()
    return await send_response(send, 404, page if method == "GET" else b"", _PAGE_HEADERS)


async def _redirect(code: str, visit: dict) -> store.RedirectOutcome:
    """The store's answer; a miss is filled first, under the same lease as Django's selector.

    Only the lease holder reads the database (on a worker thread); others wait for its fill. Past
    ``LEASE_WAIT_SECONDS`` the miss stands and Django's view answers.
    """
    outcome = await store.aredirect(code, **visit)
    if outcome.kind != "miss":
        return outcome
    loop = asyncio.get_running_loop()
    deadline = loop.time() + store.LEASE_WAIT_SECONDS
    while outcome.kind == "miss" and loop.time() < deadline:
        token = await store.alease_acquire(code)
        if token is None:
            await asyncio.sleep(store.LEASE_POLL_SECONDS)
        else:
            entry = await run_db(selectors.link_from_database, code)
            await store.acache_fill(code, token, entry)
            if entry is None:
                return store.UNKNOWN_CODE
        outcome = await store.aredirect(code, **visit)
    return outcome
