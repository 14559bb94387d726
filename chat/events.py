"""WebSocket groups and event payloads of the chat, and their publication after commit.

Every user has one group (``chat.user.<id>``) that all their sockets join, so an
event for a member reaches all of their devices. The channel layer is
at-most-once: the database stays the source of truth and ``sync`` repairs gaps.
"""

import json
from collections.abc import Callable, Iterable

from core import publish

APP = "chat"
EVENT_HANDLER = "chat.event"  # consumer method chat_event


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


async def join_user_group(user_id: int, channel_name: str) -> None:
    await publish.group_join(user_group(user_id), channel_name)


async def leave_user_group(user_id: int, channel_name: str) -> None:
    await publish.group_leave(user_group(user_id), channel_name)


def message_new(message: dict) -> dict:
    return {"type": "message.new", "message": message}


def message_ack(client_id: str, message: dict) -> dict:
    return {"type": "message.ack", "client_id": client_id, "message": message}


def message_updated(message: dict, change: int | None = None) -> dict:
    """``change``: the conversation's change number of this update (the client's change cursor)."""
    payload = {"type": "message.updated", "message": message}
    if change is not None:
        payload["change"] = change
    return payload


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


def sync_done(cursors: dict[str, int], changes: dict[str, int] | None = None) -> dict:
    return {"type": "sync.done", "cursors": cursors, "changes": changes or {}}


def _layer_message(payload: dict, skip_channel: str | None) -> dict:
    """The channel-layer message for ``payload``: serialised once here, not once per socket.

    A ``message.new`` event also carries its conversation and seq beside the text (a
    ``message.updated`` one its conversation and change number), so a socket can drop what it
    already sent during ``sync`` without parsing the JSON.
    """
    event = {"type": EVENT_HANDLER, "text": json.dumps(payload), "skip": skip_channel}
    if payload.get("type") == "message.new":
        event["conversation"] = str(payload["message"]["conversation"])
        event["seq"] = payload["message"]["seq"]
    elif payload.get("type") == "message.updated" and "change" in payload:
        event["conversation"] = str(payload["message"]["conversation"])
        event["change"] = payload["change"]
    return event


def _groups(user_ids: Iterable[int]) -> list[str]:
    return [user_group(user_id) for user_id in dict.fromkeys(user_ids)]


async def apublish(user_ids: Iterable[int], payload: dict, *, skip_channel: str | None = None) -> bool:
    """Send ``payload`` to every socket of each user now (``skip_channel``: the socket that gets an
    ack instead). Best effort (see core.publish): False when the send failed."""
    return await publish.apublish(_groups(user_ids), _layer_message(payload, skip_channel), app=APP)


def publish_on_commit(user_ids: Iterable[int], payload: dict | Callable[[], dict], *,
                      skip_channel: str | None = None) -> None:
    """Announce only what was committed: a rolled-back write is never published, and a failed
    publish never fails the committed write. A callable ``payload`` is built after the commit."""
    def build() -> dict:
        return _layer_message(payload() if callable(payload) else payload, skip_channel)

    publish.publish_on_commit(_groups(user_ids), build, app=APP)
