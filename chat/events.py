"""WebSocket groups and event payloads of the chat, and their publication after commit.

Every user has one group (``chat.user.<id>``) that all their sockets join, so an
event for a member reaches all of their devices. The channel layer is
at-most-once: the database stays the source of truth and ``sync`` repairs gaps.
"""

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_HANDLER = "chat.event"  # consumer method chat_event
PUBLISH_CONCURRENCY = 64


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


# The channel layer's Redis pool raises (not waits) when a connect storm asks for more
# connections than it holds; membership changes queue here instead.
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


async def join_user_group(user_id: int, channel_name: str) -> None:
    async with _membership_slot():
        await get_channel_layer().group_add(user_group(user_id), channel_name)


async def leave_user_group(user_id: int, channel_name: str) -> None:
    async with _membership_slot():
        await get_channel_layer().group_discard(user_group(user_id), channel_name)


def message_new(message: dict) -> dict:
    return {"type": "message.new", "message": message}


def message_ack(client_id: str, message: dict) -> dict:
    return {"type": "message.ack", "client_id": client_id, "message": message}


def message_updated(message: dict) -> dict:
    return {"type": "message.updated", "message": message}


def receipt(conversation_id: int, username: str, status: str, up_to_seq: int) -> dict:
    return {"type": "receipt", "conversation": str(conversation_id), "user": username,
            "status": status, "up_to_seq": up_to_seq}


def typing(conversation_id: int, username: str) -> dict:
    return {"type": "typing", "conversation": str(conversation_id), "user": username}


def presence(username: str, online: bool, last_seen: str | None) -> dict:
    return {"type": "presence", "user": username, "online": online, "last_seen": last_seen}


def conversation_changed(conversation_id: int, change: str) -> dict:
    """A conversation the user is (or was) in was created or changed its members: refetch it."""
    return {"type": "conversation.updated", "conversation": str(conversation_id), "change": change}


def sync_done(cursors: dict[str, int]) -> dict:
    return {"type": "sync.done", "cursors": cursors}


def error(code: str, message: str, ref: Any = None) -> dict:
    return {"type": "error", "code": str(code), "error": message, "ref": ref}


# Same contract as channels-redis' group_send script: add the message to each channel
# key below its capacity, count the ones over it.
_SEND_TO_KEYS = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i = 1, #KEYS do
  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
    redis.call('ZADD', KEYS[i], current_time, ARGV[i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    over_capacity = over_capacity + 1
  end
end
return over_capacity
"""


# KEYS: group keys. ARGV[1]: oldest membership score kept. Returns every channel of every group.
_GROUP_CHANNELS = """
local out = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[1])
  for _, name in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    out[#out + 1] = name
  end
end
return out
"""


async def _redis_group_send_many(layer, groups: list[str], message: dict) -> None:
    """group_send to many groups in a few round trips (channels-redis 4.x internals).

    One group_send per member would store one copy per member in a server process's
    shared channel key: a 500-member message takes 500 of its ``capacity`` slots and
    500 round trips. Resolving every group's channels first stores one copy per
    server process, whatever the number of members.
    """
    now = time.time()
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    channels: list[str] = []
    for index, members in by_connection.items():
        keys = [layer._group_key(group) for group in members]
        names = await layer.connection(index).eval(
            _GROUP_CHANNELS, len(keys), *keys, int(now) - layer.group_expiry
        )
        channels += [name.decode() for name in names]
    if not channels:
        return
    to_connection, key_messages, key_capacities = layer._map_channel_keys_to_connection(
        list(dict.fromkeys(channels)), message
    )
    for index, keys in to_connection.items():
        args = [key_messages[k] for k in keys] + [key_capacities[k] for k in keys] + [time.time(), layer.expiry]
        over = await layer.connection(index).eval(_SEND_TO_KEYS, len(keys), *keys, *args)
        if over:
            logger.warning("chat event dropped for %s of %s channel keys (over capacity)", over, len(keys))


async def apublish(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    """Send ``payload`` to every socket of each user (``skip_channel``: the socket that gets an ack instead).

    A ``message.new`` event also carries its conversation and seq beside the text, so a
    socket can drop a message it already sent during ``sync`` without parsing the JSON.
    """
    layer = get_channel_layer()
    # Serialised once here rather than once per receiving socket.
    event = {"type": EVENT_HANDLER, "text": json.dumps(payload), "skip": skip_channel}
    if payload.get("type") == "message.new":
        event["conversation"] = str(payload["message"]["conversation"])
        event["seq"] = payload["message"]["seq"]
    groups = [user_group(user_id) for user_id in dict.fromkeys(user_ids)]
    if isinstance(layer, RedisChannelLayer):
        await _redis_group_send_many(layer, groups, event)
        return
    limit = asyncio.Semaphore(PUBLISH_CONCURRENCY)

    async def send(group: str) -> None:
        async with limit:
            await layer.group_send(group, event)

    await asyncio.gather(*(send(group) for group in groups))


def publish_now(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    async_to_sync(apublish)(list(user_ids), payload, skip_channel=skip_channel)


def publish_on_commit(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    """Announce only what was committed: a rolled-back write is never published."""
    ids = list(user_ids)
    transaction.on_commit(lambda: publish_now(ids, payload, skip_channel=skip_channel))
