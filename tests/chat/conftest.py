"""Chat test helpers: users, conversations and authenticated WebSocket clients."""

import asyncio
import itertools
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.services.conversations import conversation_create
from core.services import token_for

_client_ids = itertools.count()


@pytest.fixture
def direct(alice, bob):
    conversation, _ = conversation_create(creator=alice, usernames=["bob"])
    return conversation


@pytest.fixture
def group(alice, bob, carol):
    conversation, _ = conversation_create(creator=alice, usernames=["bob", "carol"], title="Team")
    return conversation


def new_client_id() -> str:
    return f"c-{next(_client_ids)}"


class Socket:
    """A WebsocketCommunicator on the project's ASGI app with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.closed = False

    async def send(self, frame) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def receive_type(self, frame_type: str, timeout: float = 3) -> dict:
        """The next frame of ``frame_type``, skipping others (e.g. presence)."""
        while True:
            frame = await self.receive(timeout)
            if frame["type"] == frame_type:
                return frame

    async def frames_until(self, frame_type: str, timeout: float = 3) -> list[dict]:
        frames = []
        while True:
            frame = await self.receive(timeout)
            frames.append(frame)
            if frame["type"] == frame_type:
                return frames

    async def assert_silent(self, timeout: float = 0.3, ignore: tuple[str, ...] = ("presence",)) -> None:
        """No frame (other than ``ignore``d types) arrives within ``timeout``."""
        # receive_nothing peeks without cancelling the app (a timed-out receive would).
        while not await self.communicator.receive_nothing(timeout):
            frame = await self.receive()
            assert frame["type"] in ignore, frame

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.communicator.disconnect()


@pytest.fixture
async def connect():
    """``await connect(user)`` → a connected Socket; every socket is closed after the test."""
    from config.asgi import application

    sockets: list[Socket] = []

    async def open_socket(user) -> Socket:
        token = await database_sync_to_async(token_for)(user)
        communicator = WebsocketCommunicator(
            application, f"/ws/chat/?token={token.key}", headers=[(b"origin", b"http://testserver")]
        )
        connected, _ = await communicator.connect()
        assert connected
        socket = Socket(communicator)
        sockets.append(socket)
        return socket

    yield open_socket
    for socket in sockets:
        try:
            await socket.close()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001, S110 - the app already ended
            pass


@pytest.fixture
def api_as(client_for):
    """``await api_as(user, "post", path, data)`` → a DRF response, from async tests."""

    async def call(user, method: str, path: str, data=None):
        def run():
            client = client_for(user)
            return getattr(client, method)(path, data, format="json")

        return await database_sync_to_async(run)()

    return call
