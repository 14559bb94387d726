"""Database work for async hot handlers: a worker thread, and the connection given back after."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


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


class LoopBatcher(Generic[K, V]):
    """Hot-path callers needing the same kind of database read, answered together on a worker thread.

    ``work(keys)`` receives the distinct keys waiting and returns ``{key: value}``; a key it leaves
    out gets None. Per event loop one call runs at a time and callers arriving meanwhile wait for
    the next one, so under load one thread hop and one query answer many requests (a query per
    request on a worker thread cost more than the rest of a hot answer). A failing call fails
    every caller it was answering.
    """

    def __init__(self, work: Callable[[list[K]], dict[K, V]]):
        self.work = work
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batches] = weakref.WeakKeyDictionary()

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        batches = self._loops.get(loop)
        if batches is None:
            batches = self._loops[loop] = _Batches()
        future = loop.create_future()
        batches.waiting.setdefault(key, []).append(future)
        if batches.runner is None:
            # Started on the next pass of the loop: every caller of this pass joins the first call.
            batches.runner = loop.create_task(self._run(batches))
        return await future

    def _call(self, keys: list[K]) -> dict[K, V]:
        try:
            return self.work(keys)
        finally:
            release_connection()

    async def _run(self, batches: _Batches) -> None:
        batch: dict = {}
        try:
            while batches.waiting:
                batch, batches.waiting = batches.waiting, {}
                try:
                    # The loop's executor directly: asgiref's sync_to_async costs more than this call's query.
                    answers = await asyncio.get_running_loop().run_in_executor(None, self._call, list(batch))
                except Exception as exc:  # noqa: BLE001 - each caller gets the failure, none hangs
                    _settle(batch, error=exc)
                    continue
                for key, futures in batch.items():
                    _settle({key: futures}, value=answers.get(key))
        except BaseException:
            # Cancelled (the loop is closing): nobody may wait for a call that will never come.
            cancelled = ConnectionAbortedError("hot-path database batch cancelled")
            _settle(batch, error=cancelled)
            _settle(batches.waiting, error=cancelled)
            batches.waiting = {}
            raise
        finally:
            batches.runner = None


class _Batches:
    __slots__ = ("runner", "waiting")

    def __init__(self):
        self.waiting: dict = {}
        self.runner: asyncio.Task | None = None


def _settle(batch: dict, *, value=None, error: BaseException | None = None) -> None:
    for futures in batch.values():
        for future in futures:
            if future.done():  # its caller was cancelled (the client went away)
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
