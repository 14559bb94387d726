"""WebSocket authentication: session cookie or ?token=, otherwise closed with 4401."""

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import path

from config.asgi import application
from core.services import token_for
from core.ws_auth import UNAUTHENTICATED_CLOSE_CODE, WebSocketAuthMiddleware

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")


class _Echo(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.send_json({"hello": self.scope["user"].username})

    async def receive_json(self, content, **kwargs):
        await self.send_json({"echo": content})


# The project's own stack around a route that exists only in these tests.
echo_app = WebSocketAuthMiddleware(URLRouter([path("ws/echo/", _Echo.as_asgi())]))


async def _closed_with(app, path, headers=()):
    communicator = WebsocketCommunicator(app, path, headers=[ORIGIN, *headers])
    connected, _ = await communicator.connect()
    assert connected  # accepted only so the close code reaches the client
    message = await communicator.receive_output()
    await communicator.wait()
    return message


async def test_the_project_app_closes_a_socket_without_credentials_with_4401():
    message = await _closed_with(application, "/ws/chat/")

    assert message == {"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE}


async def test_the_project_app_closes_a_socket_with_an_invalid_token_with_4401():
    message = await _closed_with(application, "/ws/chat/?token=not-a-real-token")

    assert message["code"] == UNAUTHENTICATED_CLOSE_CODE


async def test_an_invalid_session_cookie_is_closed_with_4401():
    message = await _closed_with(echo_app, "/ws/echo/", [(b"cookie", b"sessionid=forged")])

    assert message["code"] == UNAUTHENTICATED_CLOSE_CODE


async def test_an_inactive_users_token_is_closed_with_4401(make_user):
    user = await database_sync_to_async(make_user)("ivy", is_active=False)
    token = await database_sync_to_async(token_for)(user)

    message = await _closed_with(echo_app, f"/ws/echo/?token={token.key}")

    assert message["code"] == UNAUTHENTICATED_CLOSE_CODE


async def test_a_token_in_the_query_string_authenticates_the_socket(make_user):
    user = await database_sync_to_async(make_user)("jon")
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(echo_app, f"/ws/echo/?token={token.key}", headers=[ORIGIN])

    connected, _ = await communicator.connect()

    assert connected
    assert await communicator.receive_json_from() == {"hello": "jon"}
    await communicator.send_json_to({"n": 1})
    assert await communicator.receive_json_from() == {"echo": {"n": 1}}
    await communicator.disconnect()


async def test_the_session_cookie_authenticates_the_socket(make_user):
    def logged_in_cookie():
        client = Client()
        client.force_login(make_user("kim"))
        return client.cookies["sessionid"].value

    session_id = await database_sync_to_async(logged_in_cookie)()
    communicator = WebsocketCommunicator(
        echo_app, "/ws/echo/", headers=[ORIGIN, (b"cookie", f"sessionid={session_id}".encode())]
    )

    connected, _ = await communicator.connect()

    assert connected
    assert await communicator.receive_json_from() == {"hello": "kim"}
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused_before_authentication(make_user):
    user = await database_sync_to_async(make_user)("lee")
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(
        echo_app, f"/ws/echo/?token={token.key}", headers=[(b"origin", b"https://evil.example")]
    )

    connected, _ = await communicator.connect()

    assert not connected
