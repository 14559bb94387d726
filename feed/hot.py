"""``GET /api/v1/timelines/home`` for token callers, answered before Django's request cycle.

The token check is ``core.tokens`` (the one DRF uses); the page is the same selector and the same
presenter as ``feed.api.statuses.HomeTimelineView``, rendered by DRF's JSON renderer, with the same ``Link``
header: the answer is byte for byte the view's. What the hot path skips is Django's per-request
machinery (middleware, URL resolution, DRF's dispatch and content negotiation).

Scopes and the API rate limit are checked in the view's order, with its ``X-RateLimit-*`` headers
and its 401 and 429 answers. Handed to Django (``None``): anything but a plain ``GET`` with a token,
session cookies (a browser: Django applies the session), unusual query parameters or ``Accept``
values, an app's own token, a token lacking the scope, a timeline that is not ready (the rebuild
and its 206 are Django's), a reader whose hourly activity touch is due, and any moment Redis does
not answer.
"""

from __future__ import annotations

import asyncio
import io
import logging
from urllib.parse import parse_qsl

from core import hotredis
from core.asgi import header, host_allowed, send_response
from core.hotdb import run_db
from core.tokens import auser_id_for_token, parse_authorization
from feed import store

logger = logging.getLogger(__name__)

HOME_PATH = "/api/v1/timelines/home"
PAGE_PARAMS = frozenset({"max_id", "since_id", "min_id", "limit"})
MAX_QUERY_LENGTH = 256
# Accept values DRF answers with its JSON renderer, unchanged (an ``indent`` parameter would not be).
PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json", "application/json, */*", "application/json,*/*"})
_REDIS_UNAVAILABLE = (ConnectionError, TimeoutError, OSError, hotredis.RespError)


def _plain_query(raw: bytes) -> bool:
    """Only the paging parameters, each at most once, with digit values (Django validates the rest)."""
    if len(raw) > MAX_QUERY_LENGTH:
        return False
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        return False
    names = [name for name, _ in pairs]
    return (len(names) == len(set(names)) and set(names) <= PAGE_PARAMS
            and all(value.isascii() and value.isdigit() for _, value in pairs))


def _response_headers(link: str | None) -> list[tuple[bytes, bytes]]:
    """The headers Django's stack puts on the view's JSON answer (DRF, SecurityMiddleware, ours)."""
    from django.conf import settings
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
    if link:
        response["Link"] = link
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]


def _render(status: int, data, headers: list) -> tuple[int, bytes, list]:
    from rest_framework.renderers import JSONRenderer

    return status, JSONRenderer().render(data), headers


def _invalid_token() -> tuple[int, bytes, list]:
    from core.authentication import TokenAuthentication
    from core.errors import CoreError, error_body

    challenge = TokenAuthentication().authenticate_header(None).encode("latin-1")
    return _render(401, error_body("Invalid token.", CoreError.AUTHENTICATION_FAILED),
                   [*_response_headers(None), (b"www-authenticate", challenge)])


def _limit_headers(request) -> list[tuple[bytes, bytes]]:
    state = getattr(request, "feed_limit_state", None)
    return [] if state is None else [(k.lower().encode(), v.encode()) for k, v in state.headers().items()]


def _home_page(scope, key: str, user_id: int | None) -> tuple[int, bytes, list] | None:
    """On a worker thread: the view's answer for this reader, in the view's order (authentication,
    scopes, parameters, rate limit, page), or None for what Django must answer (an app token, a
    scope the token lacks, a bad parameter)."""
    from django.contrib.auth import get_user_model
    from django.core.handlers.asgi import ASGIRequest
    from rest_framework.request import Request

    from core.errors import ApplicationError
    from feed import oauth, presenters, selectors
    from feed.api import base as api
    from feed.api.statuses import HomeTimelineView
    from feed.scopes import scope_granted
    from feed.services import limits

    if user_id is None:
        # An app's own token (client credentials) is Django's to answer; any other is refused here.
        return None if oauth.app_token_application_id(key) is not None else _invalid_token()
    reader = get_user_model().objects.filter(id=user_id, is_active=True).first()
    if reader is None:  # deactivated since its token was cached: DRF's answer too
        return _invalid_token()
    granted = oauth.token_scopes(key)
    if granted is not None and not scope_granted(HomeTimelineView.scopes["GET"], granted):
        return None
    request = Request(ASGIRequest(scope, io.BytesIO()))
    request.user = reader
    try:
        params = api._page_params(request)
    except ApplicationError:
        return None
    try:
        api.take_limit(request, limits.API)
    except ApplicationError as error:
        headers = [*_response_headers(None), *_limit_headers(request)]
        if retry_after := error.extra.get("retry_after"):
            headers.append((b"retry-after", str(int(retry_after)).encode()))
        return _render(error.status, error.as_dict(), headers)
    page = selectors.home_timeline_page(reader=reader, params=params)
    link = api._link(request, page.ids[0], page.ids[-1], "min_id") if page.ids else None
    return _render(206 if page.partial else 200, presenters.render_statuses(page.ids, reader, records=page.records),
                   [*_response_headers(link), *_limit_headers(request)])


async def _timeline_answerable(user_id: int) -> bool:
    """The timeline is complete and the reader's activity was recorded within the hour."""
    conn = hotredis.connection()
    # Issued together: one write, one round trip on the pipelined connection.
    ready, touched = await asyncio.gather(conn.execute("EXISTS", store.timeline_ready_key(user_id)),
                                          conn.execute("EXISTS", store.activity_key(user_id)))
    return bool(ready) and bool(touched)


async def handle_home(scope, receive, send) -> int | None:
    if scope.get("method") != "GET" or scope.get("path") != HOME_PATH or scope.get("root_path"):
        return None
    key = parse_authorization(header(scope, b"authorization"))
    if key is None or "sessionid=" in header(scope, b"cookie"):
        return None
    if header(scope, b"accept").strip() not in PLAIN_ACCEPTS or not _plain_query(scope.get("query_string", b"")):
        return None
    if not host_allowed(header(scope, b"host")):
        return None  # Django answers a disallowed Host with its own 400
    user_id = await auser_id_for_token(key)
    try:
        if user_id is not None and not await _timeline_answerable(user_id):
            return None
    except _REDIS_UNAVAILABLE as exc:
        logger.warning("feed timeline unavailable on the hot path (%r); handing the read to Django", exc)
        return None
    answer = await run_db(_home_page, scope, key, user_id)
    if answer is None:
        return None
    return await send_response(send, *answer)
