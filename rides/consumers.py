"""The ride sockets: ``/ws/rides/{id}/`` (watch one ride) and ``/ws/rides/driver/`` (a driver's offers).

Both send the current state first, then live frames. ``/ws/rides/{id}/`` is read-only for
everyone (rider, driver, staff, share-link viewers with ``?share=<token>``); anyone else is
closed with 4403 (a share token that is not valid for this ride) or 4404. A driver's socket
may send ``{"type": "location", "lat", "lng", "heading"?, "speed"?}`` frames, handled by the
same service as ``POST /api/v1/rides/driver/location``. A bad frame gets an ``error`` frame
naming the field and the socket stays open.
"""

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from core import parsers
from core.errors import ApplicationError, error_frame
from core.hotdb import run_db
from rides import events, selectors
from rides.errors import RideError
from rides.services import drivers
from rides.services.drivers import MAX_BATCH_POINTS

logger = logging.getLogger(__name__)

FORBIDDEN_CLOSE_CODE = 4403
NOT_FOUND_CLOSE_CODE = 4404
# A share viewer's socket ends with the ride (the link is dead then).
FINISHED_CLOSE_CODE = 1000
MAX_FRAME_BYTES = 4096
# Location frames of one socket checked but not yet written; past this a frame waits for the write.
MAX_PENDING_LOCATIONS = 4 * MAX_BATCH_POINTS
# How long the first location frame of a quiet socket waits for others to share its write.
LOCATION_GATHER_SECONDS = 0.005


class _RideSocket(AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def send_json(self, payload: dict) -> None:
        try:
            await self.send(text_data=json.dumps(payload))
        except OSError:  # the client went away; its disconnect is queued behind
            logger.debug("rides frame to a closed socket dropped")

    async def _join(self, *groups: str) -> None:
        for group in groups:
            await events.join(group, self.channel_name)
        self.groups_joined = groups

    async def _send_state_first(self, group: str, state, key: int) -> None:
        """Join ``group``, then read the current state and send it as the first frames.

        Joined before the read, so nothing committed afterwards is missed; live events wait in
        the queue until this returns, so they follow the state (one may repeat it)."""
        await self._join(group)
        frames = await database_sync_to_async(state)(key)
        await self.accept()
        for frame in frames:
            await self.send_json(frame)

    async def disconnect(self, code) -> None:
        for group in self.groups_joined:
            await events.leave(group, self.channel_name)
        self.groups_joined = ()

    @staticmethod
    def _decode(text_data, bytes_data) -> tuple[dict | None, dict | None]:
        """(the frame, None) for a JSON object, else (None, the error frame answering it)."""
        raw = text_data if text_data is not None else bytes_data
        if raw is None or len(raw) > MAX_FRAME_BYTES:
            return None, error_frame(f"A frame is at most {MAX_FRAME_BYTES} bytes.", RideError.INVALID)
        try:
            frame = parsers.loads(raw)  # as the API decodes bodies: no NaN, bounded nesting
        except (TypeError, ValueError):
            return None, error_frame("The frame is not valid JSON.", RideError.INVALID)
        if not isinstance(frame, dict):
            return None, error_frame("A frame is a JSON object.", RideError.INVALID)
        return frame, None

    async def _parse(self, text_data, bytes_data) -> dict | None:
        frame, error = self._decode(text_data, bytes_data)
        if error is not None:
            await self.send_json(error)
        return frame


class RideWatchConsumer(_RideSocket):
    """``/ws/rides/{id}/``: ``ride.status`` and ``driver.location`` of one ride, read-only."""

    async def connect(self) -> None:
        ride_id = self.scope["url_route"]["kwargs"]["ride_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        share = query.get("share", [None])[0]
        user = self.scope.get("user")
        access = await database_sync_to_async(selectors.ride_watch_role)(user=user, ride_id=ride_id,
                                                                         share_token=share)
        if access is None:
            await self.accept()  # to deliver a close code the client can read
            await self.close(code=FORBIDDEN_CLOSE_CODE if share is not None else NOT_FOUND_CLOSE_CODE)
            return
        ride, self.role = access
        self.ride_id = ride.id
        self.user_id = user.id if user is not None and user.is_authenticated else None
        await self._send_state_first(events.ride_group(ride.id), selectors.ride_live_state, ride.id)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        frame = await self._parse(text_data, bytes_data)
        if frame is not None:
            await self.send_json(error_frame("This socket is read-only.", RideError.READ_ONLY, frame.get("ref")))

    async def rides_event(self, message: dict) -> None:
        if self.role == selectors.WatchRole.DRIVER and message.get("driver") != self.user_id:
            # The offer went to someone else: this driver follows the ride no longer.
            await self.close(code=FORBIDDEN_CLOSE_CODE)
            return
        frame = message["frame"]
        await self.send_json(frame)
        if (self.role == selectors.WatchRole.SHARE and frame["type"] == "ride.status"
                and frame["status"] in events.FINISHED):
            await self.close(code=FINISHED_CLOSE_CODE)


class DriverConsumer(_RideSocket):
    """``/ws/rides/driver/``: a driver's offers, revocations and assigned ride; location frames in.

    Location frames are checked as they arrive and written on the event loop
    (``drivers.adriver_location``, one Redis call): frames that arrive within
    ``LOCATION_GATHER_SECONDS`` of a quiet socket's first, or while a write is in flight, are
    written together, so a driver streaming faster than Redis answers costs one call per batch,
    not per frame (the newest point moves the driver, every point goes to the history).
    Answers keep the frames' order: before any frame is answered, the locations sent before it are
    written (an ``error`` frame of a write names each of its frames' ``ref``).
    """

    writer: asyncio.Task | None = None

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections of its one sync thread before every handler:
        # a hop to that thread, shared by every socket of the process, per frame. Frames never use
        # that thread's connection here (locations go to Redis; a worker thread releases what it
        # used), so they skip it; every other message is dispatched as Channels does.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        self.user = self.scope["user"]
        self.pending: list[tuple] = []  # (ref, parsed point) of location frames not yet written
        if not await database_sync_to_async(selectors.is_driver)(self.user):
            await self.accept()
            await self.close(code=FORBIDDEN_CLOSE_CODE)  # go online once first
            return
        await self._send_state_first(events.driver_group(self.user.id), selectors.driver_live_state, self.user.id)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        frame, error = self._decode(text_data, bytes_data)
        ref = frame.get("ref") if frame is not None else None
        if frame is not None and frame.get("type") == "location" and "points" not in frame:
            point = {k: v for k, v in frame.items() if k not in ("type", "ref")}
            try:
                parsed, = drivers.parse_points(point, time.time())
            except ApplicationError as exc:
                error = exc.as_frame(ref)
            else:
                await self._queue_location(ref, parsed)
                return
        await self._locations_written()
        if error is not None:
            await self.send_json(error)
        elif frame.get("type") != "location":
            await self.send_json(error_frame(f"Unknown frame type: {str(frame.get('type'))[:40]!r}.",
                                             RideError.UNKNOWN_TYPE, ref))
        else:
            await self.send_json(error_frame("points: one position per frame.", RideError.INVALID, ref,
                                             fields={"points": ["One position per frame."]}))

    async def _queue_location(self, ref, point: dict) -> None:
        if len(self.pending) >= MAX_PENDING_LOCATIONS:
            await self._locations_written()  # a client sending faster than Redis answers waits here
        self.pending.append((ref, point))
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write_locations())

    async def _write_locations(self) -> None:
        try:
            # Frames a client sends back to back arrive a Redis round trip apart (the token check of
            # each frame): a moment's wait lets them share a write.
            await asyncio.sleep(LOCATION_GATHER_SECONDS)
            while self.pending:
                # At most one location body's worth at a time: each write is one history entry.
                batch, self.pending = self.pending[:MAX_BATCH_POINTS], self.pending[MAX_BATCH_POINTS:]
                await self._write(batch)
        finally:
            self.writer = None

    async def _write(self, batch: list[tuple]) -> None:
        write = {"driver_id": self.user.id, "points": [point for _, point in batch], "now": time.time()}
        try:
            try:
                await drivers.adriver_location(**write)
            except (ConnectionError, TimeoutError, OSError):
                # The hot Redis connection timed out or is down: the service through Django's client.
                await run_db(drivers.driver_location_points, **write)
        except ApplicationError as exc:
            for ref, _ in batch:
                await self.send_json(exc.as_frame(ref))
        except Exception:
            logger.exception("driver location frames failed")
            for ref, _ in batch:
                await self.send_json(error_frame("The server could not handle this frame.", RideError.INTERNAL, ref))

    async def _locations_written(self) -> None:
        while self.writer is not None:
            await asyncio.shield(self.writer)

    async def disconnect(self, code) -> None:
        await self._locations_written()
        await super().disconnect(code)

    async def rides_event(self, message: dict) -> None:
        await self.send_json(message["frame"])
