"""The rides endpoints a fleet calls all the time, answered before Django's request cycle.

- ``POST /api/v1/rides/driver/location`` (every online driver, every few seconds)
- ``GET /api/v1/rides/drivers/nearby`` (every rider's map)

Only token callers are answered here; anything else (no token, a session cookie, which needs
CSRF, another content type, a token that does not resolve) is left to the DRF views. The token
check is ``core.tokens``; parsing, validation, the service and the selector are the DRF views' own
calls, and answers are rendered by DRF's renderer and exception handler, so a body is byte for
byte the one the DRF view gives. The work runs on one worker thread per request: a primary-key
read of the caller, then the service's or selector's Redis round trips.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import QueryDict
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer

from core.asgi import OUTAGE_HEADERS, header, host_allowed, read_body, send_error, send_json_bytes
from core.errors import ApplicationError, CoreError, api_exception_handler
from core.hotdb import run_db
from core.middleware import is_outage, outage_error
from core.parsers import JSONParser
from core.tokens import auser_id_for_token, parse_authorization

logger = logging.getLogger(__name__)

LOCATION_PATH = "/api/v1/rides/driver/location"
NEARBY_PATH = "/api/v1/rides/drivers/nearby"
# What ``core.authentication.TokenAuthentication.authenticate_header`` gives DRF's 401.
_WWW_AUTHENTICATE = [(b"www-authenticate", b'Bearer realm="api"')]

Answer = tuple[int, bytes, list]  # status, body, extra headers


def _render(payload, status_code: int) -> Answer:
    return status_code, JSONRenderer().render(payload), []


def _error(exc: Exception) -> Answer:
    """The DRF views' rendering of an error: the platform's exception handler, then DRF's renderer."""
    response = api_exception_handler(exc, {})
    headers = _WWW_AUTHENTICATE if isinstance(exc, exceptions.AuthenticationFailed) else []
    if retry_after := response.get("Retry-After"):
        headers = [*headers, (b"retry-after", retry_after.encode())]
    return response.status_code, JSONRenderer().render(response.data), headers


def _active_user(user_id: int):
    """The token's owner if still active (as DRF's authentication checks), or None.

    One indexed read of two columns, without the ORM's query building: on these endpoints that
    cost as much as the work itself. The user is not otherwise loaded: the service and the
    selector use its id and staff flag only.
    """
    user_model = get_user_model()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT is_staff FROM {connection.ops.quote_name(user_model._meta.db_table)} "  # noqa: S608 - a model's table name
                       f"WHERE {connection.ops.quote_name(user_model._meta.pk.column)} = %s AND is_active = %s",
                       [user_id, True])
        row = cursor.fetchone()
    return None if row is None else user_model(pk=user_id, is_staff=bool(row[0]), is_active=True)


def _location_sync(user_id: int, body: bytes) -> Answer:
    from rides.services import drivers

    user = _active_user(user_id)
    if user is None:
        return _error(exceptions.AuthenticationFailed("Invalid token."))
    try:
        # An empty body is DRF's empty data, not a parse error.
        data = JSONParser().parse(io.BytesIO(body), "application/json", {}) if body else {}
        accepted = drivers.driver_location(user=user, data=data)
    except (ApplicationError, exceptions.APIException) as exc:
        return _error(exc)
    return _render({"accepted": accepted}, status.HTTP_202_ACCEPTED)


def _nearby_sync(user_id: int, params: QueryDict) -> Answer:
    from rides import selectors
    from rides.api import nearby_query

    user = _active_user(user_id)
    if user is None:
        return _error(exceptions.AuthenticationFailed("Invalid token."))
    try:
        hits = selectors.nearby_drivers(**nearby_query(params), exact=user.is_staff)
    except ApplicationError as exc:
        return _error(exc)
    return _render(hits, status.HTTP_200_OK)


def _token_caller(scope) -> str | None:
    """The API key of a request this module may answer, or None to leave it to Django."""
    key = parse_authorization(header(scope, b"authorization"))
    if key is None or "sessionid=" in header(scope, b"cookie"):
        return None  # no token, or a browser: Django applies its session and CSRF rules
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


async def _location(scope, receive, send) -> int | None:
    key = _token_caller(scope)
    if key is None or not _utf8_json(header(scope, b"content-type")):
        return None
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return None  # DRF's 401, with its own wording
    # Once the body is read Django cannot read it again: from here on this handler answers.
    body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if body is None:
        return await send_json_bytes(send, *_error(RequestDataTooBig()))
    return await _answer(send, _location_sync, user_id, body)


async def _nearby(scope, send) -> int | None:
    key = _token_caller(scope)
    if key is None:
        return None
    try:
        params = QueryDict(scope.get("query_string", b"").decode())
    except UnicodeDecodeError:
        return None
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return None
    # Nothing is read yet: a failure here leaves the request to Django (core.asgi.HotPathRouter).
    return await send_json_bytes(send, *await run_db(_nearby_sync, user_id, params))


async def _answer(send, work, *args) -> int:
    """Runs ``work`` and sends its answer; once the body is read, a failure is answered here too."""
    try:
        status_code, body, headers = await run_db(work, *args)
    except Exception as exc:
        if is_outage(exc):
            # The body and Retry-After of core.middleware's outage answer, as Django would give.
            return await send_error(send, outage_error(), OUTAGE_HEADERS)
        logger.exception("rides hot handler failed")
        return await send_error(send, ApplicationError("Internal server error.", CoreError.SERVER_ERROR, status=500))
    return await send_json_bytes(send, status_code, body, headers)
