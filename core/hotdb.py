"""Database work for async hot handlers: a worker thread, and the connection given back after."""

from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")


def release_connection() -> None:
    """After hot-path database work on a worker thread: pooled PostgreSQL connections go back to the
    pool. A SQLite connection stays with its thread: closing the last one checkpoints the WAL, which
    cost more than the whole request."""
    if connection.vendor != "sqlite":
        close_old_connections()


async def run_db(func: Callable[..., T], /, *args, **kwargs) -> T:
    """``func(*args, **kwargs)`` on a worker thread (not the one shared thread Django's views use)."""

    def call() -> T:
        try:
            return func(*args, **kwargs)
        finally:
            release_connection()

    return await sync_to_async(call, thread_sensitive=False)()
