"""WebSocket groups and event payloads of the chat, and their publication after commit.

Every user has one group (``chat.user.<id>``) that all their sockets join, so an
event for a member reaches all of their devices. The channel layer is
at-most-once: the database stays the source of truth and ``sync`` repairs gaps.
"""

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

EVENT_HANDLER = "chat.event"  # consumer method chat_event
PUBLISH_CONCURRENCY = 64


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


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


def sync_done(cursors: dict[str, int]) -> dict:
    return {"type": "sync.done", "cursors": cursors}


def error(code: str, message: str, ref: Any = None) -> dict:
    return {"type": "error", "code": str(code), "error": message, "ref": ref}


async def apublish(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    """Send ``payload`` to every socket of each user (``skip_channel``: the socket that gets an ack instead)."""
    layer = get_channel_layer()
    # Serialised once here rather than once per receiving socket.
    event = {"type": EVENT_HANDLER, "text": json.dumps(payload), "skip": skip_channel}
    limit = asyncio.Semaphore(PUBLISH_CONCURRENCY)

    async def send(user_id: int) -> None:
        async with limit:
            await layer.group_send(user_group(user_id), event)

    await asyncio.gather(*(send(user_id) for user_id in set(user_ids)))


def publish_now(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    async_to_sync(apublish)(list(user_ids), payload, skip_channel=skip_channel)


def publish_on_commit(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> None:
    """Announce only what was committed: a rolled-back write is never published."""
    ids = list(user_ids)
    transaction.on_commit(lambda: publish_now(ids, payload, skip_channel=skip_channel))
