"""An open socket ends with its credential: logout, deactivation, a new password, a dead token.

Sockets are checked when the client sends a frame and before frames go out to the client, so an
ended credential neither acts nor keeps receiving what the server pushes to it.
"""

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import path

from core import ws_auth
from core.services import token_for, token_revoke
from core.ws_auth import UNAUTHENTICATED_CLOSE_CODE, WebSocketAuthMiddleware

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
GROUP = "credentials-end-test"
CLOSED = {"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE}


class _Listener(AsyncJsonWebsocketConsumer):
    """Echoes frames and forwards what is published to GROUP, as the products' consumers do."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"hello": self.scope["user"].username})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"echo": content})

    async def news(self, event):
        await self.send_json({"news": event["n"]})


app = WebSocketAuthMiddleware(URLRouter([path("ws/listen/", _Listener.as_asgi())]))


@pytest.fixture(autouse=True)
def _check_every_push(monkeypatch):
    # Outgoing frames re-check at most once a second in production; here every push checks.
    monkeypatch.setattr(ws_auth, "RECHECK_SECONDS", 0.0)


async def _publish(n: int) -> None:
    await get_channel_layer().group_send(GROUP, {"type": "news", "n": n})


def _logged_in_client(make_user, username, **extra):
    client = Client()
    user = make_user(username, **extra)
    client.force_login(user)
    return client, user


async def _open(headers):
    communicator = WebsocketCommunicator(app, "/ws/listen/", headers=headers)
    assert (await communicator.connect())[0]
    greeting = await communicator.receive_json_from()
    return communicator, greeting


async def _session_socket(client):
    return await _open([ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())])


async def test_a_session_socket_receives_pushes_while_the_session_lives(make_user):
    client, _ = await database_sync_to_async(_logged_in_client)(make_user, "amy")
    communicator, greeting = await _session_socket(client)
    assert greeting == {"hello": "amy"}

    for n in range(3):
        await _publish(n)
        assert await communicator.receive_json_from() == {"news": n}
    await communicator.send_json_to({"n": 1})
    assert await communicator.receive_json_from() == {"echo": {"n": 1}}
    await communicator.disconnect()


async def test_logging_out_closes_the_sockets_of_that_session_before_the_next_push(make_user):
    client, _ = await database_sync_to_async(_logged_in_client)(make_user, "bea")
    communicator, _ = await _session_socket(client)
    other_client, _ = await database_sync_to_async(_logged_in_client)(make_user, "cal")
    other, _ = await _session_socket(other_client)
    await _publish(1)
    assert await communicator.receive_json_from() == {"news": 1}
    assert await other.receive_json_from() == {"news": 1}

    await database_sync_to_async(client.logout)()
    await _publish(2)

    assert await communicator.receive_output() == CLOSED  # instead of the news
    assert await communicator.receive_nothing(0.2)  # and nothing after it
    assert await other.receive_json_from() == {"news": 2}  # another user's session is untouched
    await communicator.disconnect()
    await other.disconnect()


async def test_logging_out_closes_the_socket_at_its_next_frame(make_user):
    client, _ = await database_sync_to_async(_logged_in_client)(make_user, "dee")
    communicator, _ = await _session_socket(client)

    await database_sync_to_async(client.logout)()
    await communicator.send_json_to({"n": 1})

    assert await communicator.receive_output() == CLOSED
    await communicator.disconnect()


async def test_a_deactivated_user_loses_session_and_token_sockets_and_the_token_at_once(make_user):
    client, user = await database_sync_to_async(_logged_in_client)(make_user, "eve")
    key = (await database_sync_to_async(token_for)(user)).key
    session_socket, _ = await _session_socket(client)
    token_socket, _ = await _open([(b"authorization", f"Bearer {key}".encode())])
    assert (await database_sync_to_async(Client().get)("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Token {key}")
            ).status_code == 200  # the token is now in the cache

    def deactivate():
        user.is_active = False
        user.save()

    await database_sync_to_async(deactivate)()
    await _publish(1)

    assert await session_socket.receive_output() == CLOSED
    assert await token_socket.receive_output() == CLOSED
    response = await database_sync_to_async(Client().get)("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    await session_socket.disconnect()
    await token_socket.disconnect()


async def test_a_new_password_closes_older_sockets_and_the_changed_session_reconnects(make_user):
    client, user = await database_sync_to_async(_logged_in_client)(make_user, "fay", password="old-password-123")
    elsewhere = Client()
    await database_sync_to_async(elsewhere.force_login)(user)
    here, _ = await _session_socket(client)
    there, _ = await _session_socket(elsewhere)

    def change_password():
        response = client.post("/accounts/password/", {
            "old_password": "old-password-123", "new_password1": "n3w-Passw0rd-456", "new_password2": "n3w-Passw0rd-456",
        })
        assert response.status_code == 302, response.content

    await database_sync_to_async(change_password)()
    await _publish(1)

    assert await here.receive_output() == CLOSED
    assert await there.receive_output() == CLOSED
    reopened, greeting = await _session_socket(client)  # the session that changed it stays logged in
    assert greeting == {"hello": "fay"}
    await _publish(2)
    assert await reopened.receive_json_from() == {"news": 2}
    for communicator in (here, there, reopened):
        await communicator.disconnect()


async def test_a_revoked_token_socket_receives_no_further_pushes(make_user):
    user = await database_sync_to_async(make_user)("gus")
    key = (await database_sync_to_async(token_for)(user)).key
    communicator, _ = await _open([(b"authorization", f"Bearer {key}".encode())])
    await _publish(1)
    assert await communicator.receive_json_from() == {"news": 1}

    await database_sync_to_async(token_revoke)(user=user, key=key)
    await _publish(2)

    assert await communicator.receive_output() == CLOSED
    await communicator.disconnect()


async def test_saving_an_active_user_without_a_new_password_leaves_their_sockets_open(make_user):
    client, user = await database_sync_to_async(_logged_in_client)(make_user, "hal")
    communicator, _ = await _session_socket(client)

    def rename():
        fresh = get_user_model().objects.get(pk=user.pk)
        fresh.first_name = "Hal"
        fresh.save()

    await database_sync_to_async(rename)()
    await _publish(1)

    assert await communicator.receive_json_from() == {"news": 1}
    await communicator.disconnect()
