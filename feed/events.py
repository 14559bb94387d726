"""Streaming: WebSocket group names and Mastodon's event messages.

A socket of ``/api/v1/streaming`` joins ``user_group(id)`` for the ``user`` stream (home
timeline updates and notifications) and ``PUBLIC_GROUP`` for ``public``. Each channel-layer
message carries the Mastodon event name, its payload (a JSON string for an entity, the bare id
for ``delete``) and the stream it belongs to.
"""

import json

PUBLIC_GROUP = "feed.public"
HANDLER = "feed.event"  # -> StreamingConsumer.feed_event


def user_group(user_id: int) -> str:
    return f"feed.user.{user_id}"


def message(event: str, payload, stream: str) -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    built = {"type": HANDLER, "event": event, "payload": text, "stream": stream}
    if isinstance(payload, dict) and "account" in payload:
        # The authors shown (the reblogged one too), so a socket can leave out accounts its user hides.
        authors = [payload["account"]["id"], *([payload["reblog"]["account"]["id"]] if payload.get("reblog") else [])]
        built["account_ids"] = [int(a) for a in authors]
    return built


def status_update(entity: dict, stream: str = "user") -> dict:
    return message("update", entity, stream)


def status_delete(status_id: int, stream: str = "user") -> dict:
    return message("delete", str(status_id), stream)


def notification(entity: dict) -> dict:
    return message("notification", entity, "user")
