"""``POST /api/v1/shorten`` for token callers, answered before Django with the same services.

The token check is ``core.tokens``; validation and creation are ``shortener.services.links``, as for
the DRF view. Concurrent requests of one event loop share a commit (``_CreateBatcher``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from core.asgi import OUTAGE_HEADERS, header, host_allowed, read_body, send_error, send_json
from core.errors import ApplicationError, CoreError
from core.hotdb import run_db
from core.middleware import is_outage, outage_error
from core.parsers import json_body
from core.tokens import auser_id_for_token, parse_authorization

logger = logging.getLogger(__name__)

SHORTEN_PATH = "/api/v1/shorten"
MAX_SHORTEN_BODY = 64 * 1024
_WWW_AUTHENTICATE = [(b"www-authenticate", b"Token")]

Answer = dict | ApplicationError  # a created link's summary (201) or the error to render


def _invalid_token() -> ApplicationError:
    return ApplicationError("Invalid token.", CoreError.AUTHENTICATION_FAILED, status=401)


def _too_large() -> ApplicationError:
    return ApplicationError("Request body too large.", CoreError.TOO_LARGE, status=413)


def _server_error() -> ApplicationError:
    return ApplicationError("Internal server error.", CoreError.SERVER_ERROR, status=500)


def _shorten_batch_sync(requests: list[tuple[int, object, str]]) -> list[Answer]:
    """Validation per request, then one ``link_create_batch`` for the valid ones (callers are authenticated)."""
    from django.contrib.auth import get_user_model

    from shortener.api import link_summary
    from shortener.services import links

    users = get_user_model().objects.in_bulk({user_id for user_id, _, _ in requests})
    answers: list[Answer | None] = []
    to_create: list[tuple[int, object, links.LinkInput]] = []
    for index, (user_id, payload, host) in enumerate(requests):
        user = users.get(user_id)
        if user is None or not user.is_active:  # gone since its token was cached
            answers.append(_invalid_token())
            continue
        try:
            to_create.append((index, user, links.link_input_from(payload, request_host=host)))
            answers.append(None)
        except ApplicationError as exc:
            answers.append(exc)
    created = links.link_create_batch(items=[(owner, data) for _, owner, data in to_create])
    for (index, _, _), result in zip(to_create, created, strict=True):
        answers[index] = result if isinstance(result, ApplicationError) else link_summary(result)
    return answers


class _CreateBatcher:
    """Group commit for one event loop: requests arriving while a batch is being written form the next.

    An idle server writes each request at once; under load one transaction carries many links.
    """

    MAX_BATCH = 200

    def __init__(self):
        self.waiting: list[tuple[int, object, str, asyncio.Future]] = []
        self.writing = False

    async def submit(self, user_id: int, payload: object, host: str) -> Answer:
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
                except Exception as exc:  # noqa: BLE001 - every waiter gets the failure, never a hang
                    if is_outage(exc):
                        # Nothing was committed (the batch's transaction rolled back): the same
                        # 503 with Retry-After as the DRF view, and the client may retry.
                        logger.warning("hot shorten: Redis unavailable (%r); batch of %s refused", exc, len(batch))
                        answers = [outage_error()] * len(batch)
                    else:
                        logger.exception("hot shorten batch failed")
                        answers = [_server_error()] * len(batch)
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
    key = parse_authorization(header(scope, b"authorization"))
    if key is None or not header(scope, b"content-type").startswith("application/json"):
        return None
    if header(scope, b"cookie") and "sessionid=" in header(scope, b"cookie"):
        return None  # a browser: let Django apply its session and CSRF rules
    host = header(scope, b"host")
    if not host_allowed(host):
        return None  # Django answers a disallowed Host with its own 400
    user_id = await auser_id_for_token(key)
    if user_id is None:
        return await send_error(send, _invalid_token(), _WWW_AUTHENTICATE)
    body = await read_body(receive, MAX_SHORTEN_BODY)
    if body is None:
        return await send_error(send, _too_large())
    try:
        return await _shorten(send, user_id, body, host)
    except Exception:
        logger.exception("hot shorten failed after reading the body")
        return await send_error(send, _server_error())


async def _shorten(send, user_id: int, body: bytes, host: str) -> int:
    try:
        payload = json_body(body)
    except ApplicationError as error:
        return await send_error(send, error)
    result = await _batcher().submit(user_id, payload, host)
    if isinstance(result, ApplicationError):
        headers = {401: _WWW_AUTHENTICATE, 503: OUTAGE_HEADERS}.get(result.status)
        return await send_error(send, result, headers)
    return await send_json(send, 201, result)
