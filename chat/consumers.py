"""The chat socket at /ws/chat/: parse a frame, call a service, answer with a frame.

A bad frame gets ``{"type": "error", "code", "error", "ref"}`` and the socket stays open.
``sync`` replays from the database up to each conversation's last seq at that moment. Live
events queued behind it are checked against what this socket already sent (either way round),
so each message reaches a socket once; clients still key messages by seq as a safety net.
"""

import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from redis.exceptions import RedisError

from chat import events, selectors
from chat.errors import ChatError
from chat.services.messages import message_send
from chat.services.presence import presence_refresh, presence_socket_closed, presence_socket_opened, typing_notify
from chat.services.receipts import receipt_record
from core.errors import ApplicationError, error_frame
from core.parsers import loads as json_loads

logger = logging.getLogger(__name__)

# Presence lives 60 s; refreshing it on every frame of a busy socket would only add Redis load.
PRESENCE_REFRESH_SECONDS = 15


def _parse_cursors(raw) -> dict[int, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApplicationError("cursors: an object of conversation id -> seq.", ChatError.INVALID)
    try:
        cursors = {int(k): int(v) for k, v in raw.items() if not isinstance(v, bool)}
    except (TypeError, ValueError):
        raise ApplicationError("cursors: an object of conversation id -> seq.", ChatError.INVALID) from None
    if len(cursors) != len(raw):
        raise ApplicationError("cursors: an object of conversation id -> seq.", ChatError.INVALID)
    return cursors


# The largest frame parsed. A message is at most a few KB; a sync's cursors for thousands of
# conversations stay well below this. Anything larger is refused before it is decoded.
MAX_FRAME_BYTES = 1024 * 1024

# Live seqs remembered per conversation for de-duplicating a later sync replay.
LIVE_SEQS_KEPT = 1000


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope["user"]
        await events.join_user_group(self.user.id, self.channel_name)
        self.joined = True
        await self.accept()
        await presence_socket_opened(user=self.user)
        self.opened = True
        self.presence_refreshed_at = time.monotonic()
        # Per conversation: seqs this socket got live, and the highest seq a sync replayed.
        # Together they make each message reach a socket once, whichever way comes first.
        self.live_seqs: dict[str, set[int]] = {}
        self.replayed_up_to: dict[str, int] = {}
        # The same for message changes (edits, deletes, reactions), by change number.
        self.live_changes: dict[str, set[int]] = {}
        self.replayed_changes_up_to: dict[str, int] = {}

    async def disconnect(self, code) -> None:
        try:
            if getattr(self, "joined", False):
                self.joined = False
                await events.leave_user_group(self.user.id, self.channel_name)
        finally:
            # The socket count must drop whatever else failed, or the user stays "online".
            if getattr(self, "opened", False):
                self.opened = False
                await presence_socket_closed(user=self.user)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except OSError:
            # The client went away while this frame was on its way (uvicorn raises
            # ClientDisconnected). Its websocket.disconnect is already queued behind: raising
            # would end the consumer without disconnect(), leaving the socket counted and the
            # user shown online to peers until the presence key expires.
            logger.debug("frame to a closed socket of user %s dropped", self.user.id)

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload))

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else bytes_data
        if raw is not None and len(raw) > MAX_FRAME_BYTES:  # characters for text: at least as many bytes
            await self.send_json(error_frame(f"A frame is at most {MAX_FRAME_BYTES} bytes.", ChatError.FRAME_TOO_LARGE))
            return
        try:
            # The API's decoder: deep nesting is a ValueError, never a RecursionError.
            frame = json_loads(raw)
        except (TypeError, ValueError) as exc:
            await self.send_json(error_frame(f"The frame is not valid JSON: {exc}", ChatError.INVALID_JSON))
            return
        if not isinstance(frame, dict):
            await self.send_json(error_frame("A frame is a JSON object.", ChatError.INVALID))
            return
        ref = frame.get("ref", frame.get("client_id"))
        kind = frame.get("type")
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_json(error_frame(f"Unknown frame type: {str(kind)[:64]!r}.", ChatError.UNKNOWN_TYPE, ref))
            return
        try:
            await self._refresh_presence()
            await handler(self, frame)
        except ApplicationError as exc:
            await self.send_json(exc.as_frame(ref))
        except Exception:
            # One failed frame (e.g. Redis or the database timing out under load) must not
            # close the socket; the client may retry it (message.send is idempotent).
            logger.exception("chat frame %r failed", frame.get("type"))
            await self.send_json(error_frame("The server could not handle this frame.", ChatError.INTERNAL, ref))

    async def _refresh_presence(self) -> None:
        now = time.monotonic()
        if now - self.presence_refreshed_at >= PRESENCE_REFRESH_SECONDS:
            self.presence_refreshed_at = now
            try:
                await presence_refresh(user=self.user)
            except RedisError:
                # Presence is best effort: the next frame retries, the frame itself goes on.
                logger.warning("presence refresh failed for user %s", self.user.id, exc_info=True)

    async def on_message_send(self, frame: dict) -> None:
        message, _ = await database_sync_to_async(message_send)(
            sender=self.user, conversation_id=frame.get("conversation"), client_id=frame.get("client_id"),
            content=frame.get("content", ""), attachment_ids=frame.get("attachment_ids"),
            origin_channel=self.channel_name,
        )
        await self.send_json(events.message_ack(message["client_id"], message))

    async def on_receipt(self, frame: dict) -> None:
        await database_sync_to_async(receipt_record)(
            user=self.user, conversation_id=frame.get("conversation"), status=frame.get("status"),
            up_to_seq=frame.get("up_to_seq"),
        )

    async def on_typing(self, frame: dict) -> None:
        await database_sync_to_async(typing_notify)(user=self.user, conversation_id=frame.get("conversation"))

    async def on_sync(self, frame: dict) -> None:
        cursors = _parse_cursors(frame.get("cursors"))
        changes = _parse_cursors(frame.get("changes"))
        positions = await database_sync_to_async(selectors.change_positions)(user=self.user)
        batches = selectors.sync_batches(user=self.user, cursors=cursors)
        final: dict[str, int] = {}
        while (step := await database_sync_to_async(next)(batches, None)) is not None:
            messages, final = step
            for message in messages:
                conversation = str(message["conversation"])
                if message["seq"] not in self.live_seqs.get(conversation, ()):
                    await self.send_json(events.message_new(message))
        for conversation_id in cursors:
            key = str(conversation_id)
            if key in final:
                self.replayed_up_to[key] = max(self.replayed_up_to.get(key, 0), final[key])
                self.live_seqs.pop(key, None)
        updates = selectors.sync_change_batches(user=self.user, changes=changes, positions=positions,
                                                seq_cursors=cursors)
        final_changes: dict[str, int] = {}
        while (step := await database_sync_to_async(next)(updates, None)) is not None:
            changed, final_changes = step
            for change, message in changed:
                if change not in self.live_changes.get(str(message["conversation"]), ()):
                    await self.send_json(events.message_updated(message, change=change))
        for conversation_id in changes:
            key = str(conversation_id)
            if key in final_changes:
                self.replayed_changes_up_to[key] = max(self.replayed_changes_up_to.get(key, 0), final_changes[key])
                self.live_changes.pop(key, None)
        await self.send_json(events.sync_done(final, final_changes))

    async def on_ping(self, frame: dict) -> None:
        await self.send_json({"type": "pong"})

    HANDLERS = {
        "message.send": on_message_send,
        "receipt": on_receipt,
        "typing": on_typing,
        "sync": on_sync,
        "ping": on_ping,
    }

    async def chat_event(self, event: dict) -> None:
        if event.get("skip") and event["skip"] == self.channel_name:
            return
        seq = event.get("seq")
        if seq is not None:
            conversation = event["conversation"]
            if seq <= self.replayed_up_to.get(conversation, 0):
                return  # already sent by a sync replay
            seen = self.live_seqs.setdefault(conversation, set())
            seen.add(seq)
            if len(seen) > LIVE_SEQS_KEPT:  # a long-lived socket keeps only the recent ones
                self.live_seqs[conversation] = set(sorted(seen)[-LIVE_SEQS_KEPT // 2:])
        change = event.get("change")
        if change is not None:
            conversation = event["conversation"]
            if change <= self.replayed_changes_up_to.get(conversation, 0):
                return  # a sync replay already sent this message in a later state
            seen = self.live_changes.setdefault(conversation, set())
            seen.add(change)
            if len(seen) > LIVE_SEQS_KEPT:
                self.live_changes[conversation] = set(sorted(seen)[-LIVE_SEQS_KEPT // 2:])
        await self.send(text_data=event["text"])
