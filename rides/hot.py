"""The rides endpoints a fleet calls all the time, answered on the event loop before Django's request cycle.

- ``POST /api/v1/rides/driver/location`` (every online driver, every few seconds)
- ``GET /api/v1/rides/drivers/nearby`` (every rider's map)

Only token callers are answered here; anything else (no token, a session cookie, which needs
CSRF, another content type or an ``Accept`` DRF would answer differently, a token that does not
resolve) is left to the DRF views. The token check is ``core.tokens`` on the hot-path Redis
connection (``core.hotredis``); whether the token's user is still active (and staff) is the read
DRF's authentication makes, done for all the requests of a moment in one query on a worker thread.
Validation is the services' own (``drivers.parse_points``, ``api.nearby_query``), the Redis work one
script call each on ``core.hotredis`` (``drivers.adriver_location``, ``store.ageo_search_free``),
and every error is rendered by the platform's exception handler and DRF's renderer: a status and
body are the DRF view's, byte for byte. The unusual goes back to the views' own code on a worker
thread: a nearby point outside this process's copy of the service areas, or a copy found out of date.
"""

from __future__ import annotations

import io
import json
import logging
import time
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer

from core.asgi import OUTAGE_HEADERS, header, host_allowed, read_body, send_error, send_json_bytes
from core.errors import ApplicationError, CoreError, api_exception_handler
from core.hotdb import LoopBatcher, run_db
from core.middleware import is_outage, outage_error
from core.parsers import JSONParser
from core.tokens import auser_id_for_token, parse_authorization
from rides import selectors, store
from rides.api import nearby_query
from rides.services import drivers

logger = logging.getLogger(__name__)

LOCATION_PATH = "/api/v1/rides/driver/location"
NEARBY_PATH = "/api/v1/rides/drivers/nearby"
# What ``core.authentication.TokenAuthentication.authenticate_header`` gives DRF's 401.
_WWW_AUTHENTICATE = [(b"www-authenticate", b'Bearer realm="api"')]
# Accept values DRF answers with its JSON renderer (anything else may pick the browsable API).
PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json", "application/json, */*", "application/json,*/*"})
# A body up to this size goes to the location history as sent; a larger one (unknown fields, long
# numbers) as the parsed points.
HISTORY_BODY_MAX = 8192
_REDIS_UNAVAILABLE = (ConnectionError, TimeoutError, OSError)

Answer = tuple[int, bytes, list]  # status, body, extra headers


def _render(payload, status_code: int) -> Answer:
    return status_code, JSONRenderer().render(payload), []


def _json(payload) -> bytes:
    """What DRF's JSONRenderer writes for plain JSON values (numbers, strings, lists, dicts), without
    building a renderer per answer: compact, UTF-8, no NaN, line separators escaped."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def _error(exc: Exception) -> Answer:
    """The DRF views' rendering of an error: the platform's exception handler, then DRF's renderer."""
    response = api_exception_handler(exc, {})
    headers = _WWW_AUTHENTICATE if isinstance(exc, exceptions.AuthenticationFailed) else []
    if retry_after := response.get("Retry-After"):
        headers = [*headers, (b"retry-after", retry_after.encode())]
    return response.status_code, JSONRenderer().render(response.data), headers


def _active_callers(user_ids: list[int]) -> dict[int, bool]:
    """Which of these users are active (as DRF's authentication checks), with their staff flag.

    One indexed read of two columns for every caller of the moment, without the ORM's query
    building: on these endpoints that cost as much as the work itself.
    """
    user_model = get_user_model()
    table = connection.ops.quote_name(user_model._meta.db_table)
    pk = connection.ops.quote_name(user_model._meta.pk.column)
    found: dict[int, bool] = {}
    with connection.cursor() as cursor:
        for first in range(0, len(user_ids), 500):
            chunk = user_ids[first:first + 500]
            cursor.execute(f"SELECT {pk}, is_staff FROM {table} WHERE is_active = %s "  # noqa: S608 - a model's table
                           f"AND {pk} IN ({', '.join(['%s'] * len(chunk))})", [True, *chunk])
            found.update((row[0], bool(row[1])) for row in cursor.fetchall())
    return found


# user id -> is_staff for active users (None: not active, or gone)
_callers: LoopBatcher[int, bool] = LoopBatcher(_active_callers)


def _token_caller(scope) -> str | None:
    """The API key of a request this module may answer, or None to leave it to Django."""
    key = parse_authorization(header(scope, b"authorization"))
    if key is None or "sessionid=" in header(scope, b"cookie"):
        return None  # no token, or a browser: Django applies its session and CSRF rules
    if header(scope, b"accept").strip().lower() not in PLAIN_ACCEPTS:
        return None
    return key if host_allowed(header(scope, b"host")) else None


def _utf8_json(content_type: str) -> bool:
    """JSON in UTF-8, the only body parsed here (DRF decodes another declared charset itself)."""
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    return media_type == "application/json" and all(
        not p.startswith("charset=") or p.removeprefix("charset=").strip('"') in ("utf-8", "utf8") for p in params)


async def handle(scope, receive, send) -> int | None:
    method, path = scope.get("method"), scope.get("path")
    if path == LOCATION_PATH and method == "POST":
        return await _location(scope, receive, send)
    if path == NEARBY_PATH and method == "GET":
        return await _nearby(scope, send)
    return None


# --- driver location ----------------------------------------------------------------------------
def _json_body(body: bytes):
    # DRF's parsing: an empty body is empty data, not a parse error.
    return JSONParser().parse(io.BytesIO(body), "application/json", {}) if body else {}


async def _location(scope, receive, send) -> int | None:
    key = _token_caller(scope)
    if key is None or not _utf8_json(header(scope, b"content-type")):
        return None
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return None  # DRF's 401, with its own wording
    if await _callers.get(user_id) is None:
        return await send_json_bytes(send, *_error(exceptions.AuthenticationFailed("Invalid token.")))
    # Once the body is read Django cannot read it again: from here on this handler answers.
    body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if body is None:
        return await send_json_bytes(send, *_error(RequestDataTooBig()))
    try:
        now = time.time()
        points = drivers.parse_points(_json_body(body), now)
        write = {"driver_id": user_id, "points": points, "now": now,
                 "history": body if len(body) <= HISTORY_BODY_MAX else None}
        try:
            accepted = await drivers.adriver_location(**write)
        except _REDIS_UNAVAILABLE:
            # The hot connection timed out or is down: the service through Django's Redis client, on
            # a worker thread (slower, with its own timeouts); Redis away altogether is Django's 503.
            accepted = await run_db(drivers.driver_location_points, **write)
    except (ApplicationError, exceptions.APIException) as exc:
        return await send_json_bytes(send, *_error(exc))
    except Exception as exc:
        if is_outage(exc):
            # The body and Retry-After of core.middleware's outage answer, as Django would give.
            return await send_error(send, outage_error(), OUTAGE_HEADERS)
        logger.exception("rides hot handler failed")
        return await send_error(send, ApplicationError("Internal server error.", CoreError.SERVER_ERROR, status=500))
    return await send_json_bytes(send, status.HTTP_202_ACCEPTED, b'{"accepted":%d}' % accepted)


# --- nearby drivers -----------------------------------------------------------------------------
def _query(raw: bytes) -> dict[str, str] | None:
    """The query string as Django's QueryDict reads it for ``.get`` (the last value of a repeated
    name), or None for what is left to Django: bytes outside ASCII (Django reads them as Latin-1),
    too many fields (its own 400)."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8",
                          max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def _nearby_sync(params: dict[str, str], exact: bool) -> Answer:
    """The DRF view's own work (its area lookup in the database), for what the hot path does not decide."""
    try:
        hits = selectors.nearby_drivers(**nearby_query(params), exact=exact)
    except ApplicationError as exc:
        return _error(exc)
    return _render(hits, status.HTTP_200_OK)


async def _nearby_hits(query: dict) -> list[store.GeoHit] | None:
    """The search's hits in the area this process's copy of the areas finds for the point, or None
    when it finds none or is out of date (then reloaded): the view's own code decides those."""
    area_map = selectors.service_area_map_cached() or await run_db(selectors.service_area_map)
    area = area_map.slug_at(query["lat"], query["lng"])
    if not area:
        return None
    search = selectors.nearby_search(area=area, area_m2=area_map.sizes_m2[area], lat=query["lat"], lng=query["lng"],
                                     radius_m=query["radius_m"], limit=query["limit"],
                                     vehicle_type=query["vehicle_type"], now=time.time())
    hits = await store.ageo_search_free(**search, areas_version=area_map.version)
    if hits is None:
        await run_db(selectors.service_area_map, reload=True)
    return hits


async def _nearby(scope, send) -> int | None:
    key = _token_caller(scope)
    if key is None:
        return None
    params = _query(scope.get("query_string", b""))
    if params is None:
        return None
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return None
    # Nothing is read yet: a failure here leaves the request to Django (core.asgi.HotPathRouter).
    is_staff = await _callers.get(user_id)
    if is_staff is None:
        return await send_json_bytes(send, *_error(exceptions.AuthenticationFailed("Invalid token.")))
    try:
        query = nearby_query(params)
    except ApplicationError as exc:
        return await send_json_bytes(send, *_error(exc))
    hits = await _nearby_hits(query)
    if hits is None:
        return await send_json_bytes(send, *await run_db(_nearby_sync, params, is_staff))
    rows = selectors.nearby_rows(hits, limit=query["limit"], exact=is_staff)
    return await send_json_bytes(send, status.HTTP_200_OK, _json(rows))
