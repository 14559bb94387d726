"""The one API token check: DRF views, WebSockets and hot handlers all resolve keys here.

A key is resolved by asking each registered token source in turn (DRF's ``Token`` table first;
other apps add theirs, e.g. OAuth access tokens, with ``register_token_source``). The answer is
cached in Redis under a digest of the key (``core.store.token_cache_key``): a user id for
``TOKEN_CACHE_TTL`` seconds, or an "unknown" marker for ``TOKEN_NEGATIVE_TTL`` seconds.

Revocation:
- A deleted or rotated token: call ``token_invalidate(key)`` after the deletion; the key stops
  resolving at once in every process. It leaves an "unknown" marker rather than deleting the
  entry, so a lookup that read the database just before the deletion cannot write it back.
- A deactivated user: sources only answer for active users, and a positive entry lives at most
  ``TOKEN_CACHE_TTL`` seconds. The service that deactivates a user should also call
  ``user_tokens_invalidate(user_id)``, which drops every cached key of that user at once.

When Redis cannot be reached the sources are asked directly: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis

from core import hotredis
from core.hotdb import run_db
from core.redis import get_redis
from core.store import (
    TOKEN_CACHE_TTL,
    TOKEN_NEGATIVE_TTL,
    TOKEN_UNKNOWN,
    token_cache_key,
    token_user_index_key,
)

logger = logging.getLogger(__name__)

SCHEMES = ("token", "bearer")
MAX_KEY_LENGTH = 256  # DRF keys are 40 characters; anything far longer is not a key of ours

TokenSource = Callable[[str], int | None]
"""Given a key, the id of the ACTIVE user it belongs to, or None. Runs on a worker thread."""

_sources: list[TokenSource] = []

_HOT_REDIS_ERRORS = (ConnectionError, OSError, TimeoutError, hotredis.RespError)


def parse_authorization(value: str) -> str | None:
    """The key of an ``Authorization: Token <key>`` or ``Bearer <key>`` header (scheme in any case)."""
    parts = (value or "").split()
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        return None
    key = parts[1]
    return key if len(key) <= MAX_KEY_LENGTH else None


def register_token_source(source: TokenSource) -> None:
    """Add a source asked after those already registered (registering one twice is a no-op)."""
    if source not in _sources:
        _sources.append(source)


def drf_token_source(key: str) -> int | None:
    from rest_framework.authtoken.models import Token

    return Token.objects.filter(key=key, user__is_active=True).values_list("user_id", flat=True).first()


register_token_source(drf_token_source)


def _lookup(key: str) -> int | None:
    for source in _sources:
        user_id = source(key)
        if user_id is not None:
            return int(user_id)
    return None


def _usable(key: str) -> bool:
    return bool(key) and len(key) <= MAX_KEY_LENGTH


def _decode(cached: bytes) -> int | None:
    return None if cached == TOKEN_UNKNOWN else int(cached)


def _fill_commands(cache_key: str, user_id: int | None) -> list[tuple]:
    # NX: an invalidation's marker (or a concurrent fill) wins over this possibly stale answer.
    if user_id is None:
        return [("SET", cache_key, TOKEN_UNKNOWN, "EX", TOKEN_NEGATIVE_TTL, "NX")]
    index = token_user_index_key(user_id)
    return [
        ("SET", cache_key, user_id, "EX", TOKEN_CACHE_TTL, "NX"),
        ("SADD", index, cache_key),
        ("EXPIRE", index, TOKEN_CACHE_TTL),
    ]


def user_id_for_token(key: str) -> int | None:
    """The id of the active user owning ``key``, or None (unknown key, inactive user)."""
    if not _usable(key):
        return None
    cache_key = token_cache_key(key)
    client = get_redis()
    try:
        cached = client.get(cache_key)
    except redis.RedisError:
        logger.warning("token cache unreachable; asking the token sources directly")
        return _lookup(key)
    if cached is not None:
        return _decode(cached)
    user_id = _lookup(key)
    try:
        pipe = client.pipeline(transaction=False)
        for command in _fill_commands(cache_key, user_id):
            pipe.execute_command(*command)
        pipe.execute()
    except redis.RedisError:
        logger.warning("token cache unreachable; answer not cached")
    return user_id


async def auser_id_for_token(key: str) -> int | None:
    """``user_id_for_token`` for async code, through the hot-path Redis connection."""
    if not _usable(key):
        return None
    cache_key = token_cache_key(key)
    conn = hotredis.connection()
    try:
        cached = await conn.execute("GET", cache_key)
    except _HOT_REDIS_ERRORS:
        logger.warning("token cache unreachable; asking the token sources directly")
        return await run_db(_lookup, key)
    if cached is not None:
        return _decode(cached)
    user_id = await run_db(_lookup, key)
    # Issued together: one write on the pipelined connection.
    replies = await asyncio.gather(*(conn.execute(*command) for command in _fill_commands(cache_key, user_id)),
                                   return_exceptions=True)
    if any(isinstance(reply, _HOT_REDIS_ERRORS) for reply in replies):
        logger.warning("token cache unreachable; answer not cached")
    return user_id


def token_invalidate(key: str) -> None:
    """Make ``key`` stop resolving at once, everywhere (call it after deleting or rotating a token)."""
    if not key:
        return
    get_redis().set(token_cache_key(key), TOKEN_UNKNOWN, ex=TOKEN_NEGATIVE_TTL)


# KEYS: the user's index. ARGV: unknown marker, its ttl. Members are token cache keys.
_USER_INVALIDATE_LUA = """
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('SET', key, ARGV[1], 'EX', ARGV[2]) end
redis.call('DEL', KEYS[1])
return #members
"""


def user_tokens_invalidate(user_id: int) -> None:
    """Drop every cached key of this user at once (call it when deactivating them)."""
    client = get_redis()
    client.eval(_USER_INVALIDATE_LUA, 1, token_user_index_key(user_id), TOKEN_UNKNOWN, TOKEN_NEGATIVE_TTL)
