"""When a browser session ends, the WebSockets it opened end with it.

An HTTP request asks the session store on every request, so a logout or a new password takes
effect at once there. A WebSocket authenticated by the session cookie was checked once, at its
handshake; without this module it would keep receiving the user's messages after they logged out
on that computer, or after an administrator deactivated them. So:

- a logout marks its session ended (``session_end``);
- deactivating a user, or giving them a new password, marks every session of that user ended at
  that moment (``user_sessions_end``): sockets opened before it close, a socket opened after it
  with a session Django still accepts (the one that changed the password) works;
- ``core.ws_auth`` asks ``asession_valid`` before passing on a frame in either direction (see there).

The same signal also drops the user's cached API tokens (``core.tokens.user_tokens_invalidate``), so a
deactivated user's token dies at once rather than when its cache entry expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import import_module

import redis
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from core import hotredis
from core.hotdb import run_db
from core.redis import get_redis
from core.store import session_ended_key, user_sessions_ended_key
from core.tokens import user_tokens_invalidate

logger = logging.getLogger(__name__)

_HOT_REDIS_ERRORS = (ConnectionError, OSError, TimeoutError, hotredis.RespError)


def _marker_ttl() -> int:
    return int(settings.SESSION_COOKIE_AGE)  # no session outlives it, so neither need the markers


def session_end(session_key: str | None) -> None:
    if not session_key:
        return
    try:
        get_redis().set(session_ended_key(session_key), b"1", ex=_marker_ttl())
    except redis.RedisError:
        # The session itself is deleted from the store by logout; sockets fall back to asking it.
        logger.warning("session end not recorded in Redis; open sockets learn it from the session store")


def user_sessions_end(user_id: int) -> None:
    try:
        get_redis().set(user_sessions_ended_key(user_id), repr(time.time()), ex=_marker_ttl())
    except redis.RedisError:
        logger.warning("sessions of user %s not marked ended: Redis unreachable", user_id)


def _session_in_store(session_key: str, user_id: int) -> bool:
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return str(store.get(SESSION_KEY)) == str(user_id) and get_user_model().objects.filter(
        pk=user_id, is_active=True).exists()


async def asession_valid(session_key: str, user_id: int, opened_at: float) -> bool:
    """Whether a socket opened at ``opened_at`` on this session may go on (one Redis round trip).

    Without Redis, the session store and the user row answer instead: slower, never wrong.
    """
    conn = hotredis.connection()
    try:
        # Written together on the pipelined connection: one round trip.
        ended, user_ended = await asyncio.gather(conn.execute("GET", session_ended_key(session_key)),
                                                 conn.execute("GET", user_sessions_ended_key(user_id)))
    except _HOT_REDIS_ERRORS:
        return await run_db(_session_in_store, session_key, user_id)
    if ended is not None:
        return False
    return user_ended is None or float(user_ended) < opened_at


@receiver(user_logged_out, dispatch_uid="core.sessions.logged_out")
def _on_logout(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    session_end(getattr(session, "session_key", None))


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="core.sessions.user_saved")
def _on_user_saved(sender, instance, created, **kwargs) -> None:
    # ``_password`` holds the raw password between set_password() and the save that stores it.
    if created or (instance.is_active and getattr(instance, "_password", None) is None):
        return
    user_id = instance.pk

    def end_everything() -> None:
        user_sessions_end(user_id)
        if not instance.is_active:
            user_tokens_invalidate(user_id)

    transaction.on_commit(end_everything, robust=True)
