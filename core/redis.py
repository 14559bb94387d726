"""Shared Redis clients (sync and asyncio) built from settings.REDIS_URL.

Apps own their keys in their own ``store.py``; this module only hands out
connections. Pools block instead of failing when they run dry under load.
"""

import asyncio
import threading
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

_lock = threading.Lock()
_sync_client: redis.Redis | None = None
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def _pool_options() -> dict:
    # Bounded waits (settings.REDIS_*_TIMEOUT, 1 s by default): a stalled Redis fails the command
    # quickly, and the request becomes a 503 (core.middleware) instead of hanging.
    return {"timeout": 5, "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT,
            "socket_timeout": settings.REDIS_SOCKET_TIMEOUT}


def get_redis() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        with _lock:
            if _sync_client is None:
                pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=64, **_pool_options())
                _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def get_async_redis() -> aioredis.Redis:
    """An asyncio client bound to the running event loop (one pool per loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=128, **_pool_options())
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests that repoint REDIS_URL call this)."""
    global _sync_client
    with _lock:
        _sync_client = None
        _async_clients.clear()
