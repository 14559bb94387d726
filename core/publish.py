"""Announcing events to WebSocket groups, after the write that caused them has committed.

Every app publishes through this module, never through the channel layer directly:

- ``publish_on_commit(groups, message, app=...)``: from a service, inside or outside a
  transaction. The send runs once the current transaction commits (``transaction.on_commit``,
  ``robust=True``); a rolled-back write is never announced. ``message`` may be a callable that
  builds the message then, so it shows the committed state.
- ``publish_now(groups, message, app=...)``: synchronous code with nothing left to commit.
- ``apublish(groups, message, app=...)``: the same from async code (consumers); ``message`` is a
  ready dict there.
- ``group_join(group, channel_name)`` / ``group_leave(...)``: a consumer's socket joins or
  leaves a group.

``message`` is a channel-layer message: a dict whose ``"type"`` names the consumer handler
(``"chat.event"`` → ``chat_event``). The channel layer is at-most-once, so a publish is best
effort: a failure is logged and counted as ``publish_failures_total{app=...}`` in /metrics and
never raised, so it cannot turn a committed write into an error. Clients repair what they
missed from the database (``sync``, refetches).
"""

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from core import channels_adapter
from core.metrics import recorder

logger = logging.getLogger(__name__)

MessageOrBuilder = dict | Callable[[], dict]

PUBLISH_FAILURES = "publish_failures_total"

# The channel layer's Redis pool raises (not waits) when a connect storm asks for more
# connections than it holds; group membership changes queue here instead.
MEMBERSHIP_CONCURRENCY = 32
_membership_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _membership_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _membership_slots.get(loop)
    if slot is None:
        slot = _membership_slots[loop] = asyncio.Semaphore(MEMBERSHIP_CONCURRENCY)
    return slot


async def group_join(group: str, channel_name: str) -> None:
    async with _membership_slot():
        await get_channel_layer().group_add(group, channel_name)


async def group_leave(group: str, channel_name: str) -> None:
    async with _membership_slot():
        await get_channel_layer().group_discard(group, channel_name)


def _failed(app: str, groups: list[str]) -> None:
    logger.exception("publishing to %s group(s) of %s failed", len(groups), app)
    recorder.count(PUBLISH_FAILURES, app=app)


async def apublish(groups: Iterable[str], message: dict, *, app: str) -> bool:
    """Send ``message`` to every socket in ``groups`` now; False (logged, counted) if it failed."""
    groups = list(groups)
    try:
        await channels_adapter.group_send_many(get_channel_layer(), groups, message)
    except Exception:  # noqa: BLE001 - best effort by contract: clients catch up from the database
        _failed(app, groups)
        return False
    return True


def publish_now(groups: Iterable[str], message: MessageOrBuilder, *, app: str) -> bool:
    """``apublish`` for synchronous code; False (logged, counted) if it failed.

    A callable ``message`` is built here, in synchronous code, so it may read the database.
    """
    groups = list(groups)
    try:
        built = message() if callable(message) else message
        return async_to_sync(apublish)(groups, built, app=app)
    except Exception:  # noqa: BLE001 - e.g. called where no event loop can be made
        _failed(app, groups)
        return False


def publish_on_commit(groups: Iterable[str], message: MessageOrBuilder, *, app: str) -> None:
    """Publish once the current transaction commits (at once outside a transaction).

    Never raises and never makes the commit fail; a failed send is logged and counted.
    """
    groups = list(groups)
    if not groups:
        return
    transaction.on_commit(lambda: publish_now(groups, message, app=app), robust=True)
