"""Mastodon's streaming API over a WebSocket at ``/api/v1/streaming``.

Streams: ``user`` (home timeline updates, deletes and notifications), ``user:notification``
(notifications only), ``public`` (public posts). Subscribe with ``?stream=`` on the URL or with
``{"type": "subscribe", "stream": "user"}`` frames (``unsubscribe`` alike). Each event is
Mastodon's frame ``{"stream": [name], "event": "update", "payload": "<Status JSON>"}``; a bad
frame gets an error frame and the socket stays open. Authentication is the platform's socket
check (``?access_token=``, a Bearer header, or the session).
"""

import json
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from core.authentication import claims_token
from core.errors import error_frame
from core.publish import group_join, group_leave
from core.tokens import parse_authorization
from feed import events, store
from feed.errors import FeedError
from feed.oauth import token_scopes
from feed.scopes import scope_granted
from feed.selectors import hidden_account_ids

MAX_FRAME_BYTES = 4096
USER_STREAMS = ("user", "user:notification")
PUBLIC_STREAMS = ("public", "public:local")
STREAMS = USER_STREAMS + PUBLIC_STREAMS
STREAM_SCOPES = {"user": "read:statuses", "user:notification": "read:notifications", "public": "read:statuses",
                 "public:local": "read:statuses"}


def _socket_key(scope) -> str | None:
    """The token the socket authenticated with (None for a session cookie), found as
    ``core.ws_auth`` finds it: a token Authorization header first, else the query string."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and claims_token(header := value.decode("latin-1")):
            return parse_authorization(header)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or query.get("access_token") or [None])[0]


def _invalid(message: str, field: str) -> dict:
    return {**error_frame(message, FeedError.INVALID), "status": 400, "fields": {field: [message]}}


class StreamingConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope["user"]
        self.streams: set[str] = set()
        self.groups_joined: set[str] = set()
        self.hidden: set[int] | None = None
        key = _socket_key(self.scope)
        # An OAuth token streams only what its scopes may read; platform tokens and sessions all.
        self.granted = await database_sync_to_async(token_scopes)(key) if key else None
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        stream = query.get("stream", [None])[0]
        # Joined before the handshake completes: an event right after it is not missed.
        refusal = await self._join(stream) if stream else None
        await self.accept()
        if refusal:
            await self.send(text_data=json.dumps(refusal))

    def _group(self, stream: str) -> str:
        return events.user_group(self.user.id) if stream in USER_STREAMS else events.PUBLIC_GROUP

    async def _subscribe(self, stream) -> None:
        refusal = await self._join(stream)
        if refusal:
            await self.send(text_data=json.dumps(refusal))

    async def _join(self, stream) -> dict | None:
        """Subscribe to ``stream``; returns the error frame to send instead when it may not."""
        if stream not in STREAMS:
            return _invalid("Unknown stream type", "stream")
        if self.granted is not None and not scope_granted(STREAM_SCOPES[stream], self.granted):
            return {**error_frame("This action is outside the authorized scopes", FeedError.OUTSIDE_SCOPES),
                    "status": 403}
        if stream in PUBLIC_STREAMS and self.hidden is None:
            # Public posts of accounts the user blocks, is blocked by or mutes are left out.
            self.hidden = await database_sync_to_async(hidden_account_ids)(self.user.id)
        self.streams.add(stream)
        group = self._group(stream)
        if group not in self.groups_joined:
            if stream in USER_STREAMS:  # counted first: the fan-out then publishes to this user
                await sync_to_async(store.listener_join, thread_sensitive=False)(self.user.id)
            await group_join(group, self.channel_name)
            self.groups_joined.add(group)
        return None

    async def _unsubscribe(self, stream) -> None:
        self.streams.discard(stream)
        group = self._group(stream) if stream in STREAMS else None
        if group and group in self.groups_joined and not any(self._group(s) == group for s in self.streams):
            await self._leave(group)

    async def _error(self, message: str, field: str) -> None:
        await self.send(text_data=json.dumps(_invalid(message, field)))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self._error("Send a JSON text frame of at most 4096 bytes", "frame")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self._error("Frame is not JSON", "frame")
            return
        if not isinstance(frame, dict) or frame.get("type") not in ("subscribe", "unsubscribe"):
            await self._error("Unknown message type (subscribe or unsubscribe)", "type")
            return
        stream = frame.get("stream")
        if frame["type"] == "subscribe":
            await self._subscribe(stream)
        elif stream in STREAMS:
            await self._unsubscribe(stream)
        else:
            await self._error("Unknown stream type", "stream")

    async def feed_event(self, message: dict) -> None:
        if message["stream"] == "user":
            wanted = [s for s in USER_STREAMS if s in self.streams
                      and (s == "user" or message["event"] == "notification")]
        elif self.hidden and set(message.get("account_ids", ())) & self.hidden:
            return
        else:
            wanted = [s for s in PUBLIC_STREAMS if s in self.streams]
        for stream in wanted:
            await self.send(text_data=json.dumps({"stream": [stream], "event": message["event"],
                                                  "payload": message["payload"]}))

    async def disconnect(self, code) -> None:
        for group in list(getattr(self, "groups_joined", ())):
            await self._leave(group)

    async def _leave(self, group: str) -> None:
        await group_leave(group, self.channel_name)
        self.groups_joined.discard(group)
        if group != events.PUBLIC_GROUP:
            await sync_to_async(store.listener_leave, thread_sensitive=False)(self.user.id)
