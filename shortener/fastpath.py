"""The redirect hot path: ``GET|HEAD /<code>`` answered before Django in one Redis round trip.

Only the common case is answered here: an active, unexpired link without password or click limit,
asked for by a client that does not want JSON. A cache miss is filled here too (on a worker thread,
through the same selector as Django's view). Everything else returns None and Django's redirect
view (same services, same cache) answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref

from django.conf import settings
from django.utils.encoding import iri_to_uri

from core.errors import ApplicationError, FieldError
from core.hotdb import run_db
from core.ratelimit import trusted_client_ip
from core.tokens import auser_id_for_token, parse_authorization
from shortener import store
from shortener.enrichment import looks_like_bot
from shortener.services.links import is_reserved

logger = logging.getLogger(__name__)

# A 301 may be cached by browsers briefly (its clicks are then not seen); a 302 never.
CACHE_CONTROL = {301: "private, max-age=90", 302: "no-store"}
_PATH_RE = re.compile(r"^/([A-Za-z0-9_-]{3,32})$")


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _client_ip(scope) -> str:
    client = scope.get("client")
    return trusted_client_ip(client[0] if client else "", _header(scope, b"x-forwarded-for"))


async def handle(scope, receive, send) -> int | None:
    method = scope.get("method")
    if method not in ("GET", "HEAD") or scope.get("query_string"):
        return None
    match = _PATH_RE.match(scope.get("path", ""))
    if match is None:
        return None
    code = match.group(1)
    if is_reserved(code) or "json" in _header(scope, b"accept"):
        return None
    user_agent = _header(scope, b"user-agent")
    visit = {
        "referrer": _header(scope, b"referer"),
        "ip": _client_ip(scope),
        "user_agent": user_agent,
        "method": method,
        "count": method == "GET" and not looks_like_bot(user_agent),
    }
    outcome = await store.aredirect(code, **visit)
    if outcome.kind == "miss":
        # A first hit: load the link into the cache (the same lease-guarded selector Django's view
        # uses) on a worker thread, then answer from the cache like any other hit.
        if not await _fill_cache(code):
            return None  # unknown code: Django renders the 404 (now negatively cached)
        outcome = await store.aredirect(code, **visit)
    if outcome.kind != "ok":
        return None
    # The click is already recorded: from here on this handler must answer.
    location = iri_to_uri(outcome.long_url).encode("ascii", errors="replace")
    await send(
        {
            "type": "http.response.start",
            "status": outcome.redirect_type,
            "headers": [
                (b"location", location),
                (b"content-length", b"0"),
                (b"cache-control", CACHE_CONTROL[outcome.redirect_type].encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
    return outcome.redirect_type


def _link_exists(code: str) -> bool:
    from shortener import selectors

    return selectors.link_for_redirect(code) is not None


async def _fill_cache(code: str) -> bool:
    return await run_db(_link_exists, code)


# --- creation -----------------------------------------------------------------------------------

SHORTEN_PATH = "/api/v1/shorten"
MAX_SHORTEN_BODY = 64 * 1024
_INVALID_TOKEN = {"error": "Invalid token.", "code": "authentication_failed"}
_WWW_AUTHENTICATE = [(b"www-authenticate", b"Token")]
_JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff"),
                 (b"cache-control", b"no-store")]


async def _read_body(receive, limit: int) -> bytes | None:
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


async def _send_json(send, status: int, payload: dict, extra_headers: list | None = None) -> int:
    body = json.dumps(payload).encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


def _shorten_batch_sync(requests: list[tuple[int, object, str]]) -> list[tuple[int, dict]]:
    """Validation per request, then one ``link_create_batch`` for the valid ones (callers are authenticated)."""
    from django.contrib.auth import get_user_model

    from shortener.api import link_summary
    from shortener.services import links

    users = get_user_model().objects.in_bulk({user_id for user_id, _, _ in requests})
    answers: list[tuple[int, dict] | None] = []
    to_create: list[tuple[int, object, links.LinkInput]] = []
    for index, (user_id, payload, host) in enumerate(requests):
        user = users.get(user_id)
        if user is None or not user.is_active:  # gone since its token was cached
            answers.append((401, _INVALID_TOKEN))
            continue
        try:
            if not isinstance(payload, dict):
                raise FieldError({"non_field_errors": "Send a JSON object."})
            to_create.append((index, user, links.link_input_from(payload, request_host=host)))
            answers.append(None)
        except ApplicationError as exc:
            answers.append((exc.status, exc.as_dict()))
    created = links.link_create_batch(items=[(owner, data) for _, owner, data in to_create])
    for (index, _, _), result in zip(to_create, created, strict=True):
        if isinstance(result, ApplicationError):
            answers[index] = (result.status, result.as_dict())
        else:
            answers[index] = (201, link_summary(result))
    return answers


class _CreateBatcher:
    """Group commit for one event loop: requests arriving while a batch is being written form the next.

    An idle server writes each request at once; under load one transaction carries many links.
    """

    MAX_BATCH = 200

    def __init__(self):
        self.waiting: list[tuple[int, object, str, asyncio.Future]] = []
        self.writing = False

    async def submit(self, user_id: int, payload: object, host: str) -> tuple[int, dict]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((user_id, payload, host, future))
        if not self.writing:
            self.writing = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[: self.MAX_BATCH], self.waiting[self.MAX_BATCH :]
                try:
                    answers = await run_db(_shorten_batch_sync, [(user_id, payload, host)
                                                                 for user_id, payload, host, _ in batch])
                except Exception:  # noqa: BLE001 - every waiter gets the failure, never a hang
                    logger.exception("hot shorten batch failed")
                    answers = [(500, {"error": "Internal server error.", "code": "server_error"})] * len(batch)
                for (_, _, _, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self.writing = False


_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _batcher() -> _CreateBatcher:
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _CreateBatcher()
    return batcher


async def handle_shorten(scope, receive, send) -> int | None:
    """``POST /api/v1/shorten`` with a token and a JSON body, answered without Django's request cycle.

    Anything else (anonymous callers, who are rate limited; session cookies, which need CSRF; other
    content types) is left to the DRF view. Token check, validation and creation are the same calls.
    Once the body is read Django cannot read it again: from there on this handler always answers.
    """
    if scope.get("method") != "POST" or scope.get("path") != SHORTEN_PATH:
        return None
    key = parse_authorization(_header(scope, b"authorization"))
    if key is None or not _header(scope, b"content-type").startswith("application/json"):
        return None
    if _header(scope, b"cookie") and "sessionid=" in _header(scope, b"cookie"):
        return None  # a browser: let Django apply its session and CSRF rules
    host = _header(scope, b"host")
    if not _host_allowed(host):
        return None  # Django answers a disallowed Host with its own 400
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return await _send_json(send, 401, _INVALID_TOKEN, _WWW_AUTHENTICATE)
    body = await _read_body(receive, MAX_SHORTEN_BODY)
    if body is None:
        return await _send_json(send, 413, {"error": "Request body too large.", "code": "too_large"})
    try:
        return await _shorten(send, user_id, body, host)
    except Exception:
        logger.exception("hot shorten failed after reading the body")
        return await _send_json(send, 500, {"error": "Internal server error.", "code": "server_error"})


async def _shorten(send, user_id: int, body: bytes, host: str) -> int:
    try:
        payload = json.loads(body)
    except RecursionError:
        error = FieldError({"body": "JSON nested too deeply."}, code="parse_error")
        return await _send_json(send, error.status, error.as_dict())
    except ValueError:
        return await _send_json(send, 400, {"error": "JSON parse error.", "code": "parse_error"})
    status, result = await _batcher().submit(user_id, payload, host)
    return await _send_json(send, status, result, _WWW_AUTHENTICATE if status == 401 else None)


def _host_allowed(host: str) -> bool:
    from django.http.request import split_domain_port, validate_host

    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
