"""WebSocket authentication (token header or ?token=, else session cookie; otherwise 4401) and origins."""

import pytest
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import path
from rest_framework.authtoken.models import Token

from config.asgi import application
from core.services import token_for, token_revoke, token_rotate
from core.ws_auth import UNAUTHENTICATED_CLOSE_CODE, WebSocketAuthMiddleware, origin_allowed

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


async def _greeting(app, path, headers=()):
    """Connect and return the first frame, or None when the handshake is refused."""
    communicator = WebsocketCommunicator(app, path, headers=list(headers))
    connected, _ = await communicator.connect()
    if not connected:
        return None
    message = await communicator.receive_output()
    await communicator.disconnect()
    return message


async def _token_of(make_user, username):
    user = await database_sync_to_async(make_user)(username)
    return (await database_sync_to_async(token_for)(user)).key


def _session_cookie(make_user, username):
    client = Client()
    client.force_login(make_user(username))
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
async def test_an_authorization_header_authenticates_the_socket(scheme, make_user):
    key = await _token_of(make_user, "mo")

    message = await _greeting(echo_app, "/ws/echo/", [ORIGIN, (b"authorization", f"{scheme} {key}".encode())])

    assert message == {"type": "websocket.send", "text": '{"hello": "mo"}'}


async def test_a_wrong_authorization_header_is_closed_with_4401_even_with_a_session(make_user):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "ned")

    message = await _closed_with(echo_app, "/ws/echo/", [cookie, (b"authorization", b"Bearer " + b"0" * 40)])

    assert message["code"] == UNAUTHENTICATED_CLOSE_CODE


async def test_a_token_socket_without_an_origin_opens(make_user):
    key = await _token_of(make_user, "otto")

    by_header = await _greeting(echo_app, "/ws/echo/", [(b"authorization", f"Bearer {key}".encode())])
    by_query = await _greeting(echo_app, f"/ws/echo/?token={key}")

    assert by_header == by_query == {"type": "websocket.send", "text": '{"hello": "otto"}'}


async def test_the_project_app_opens_a_token_socket_without_an_origin(make_user):
    key = await _token_of(make_user, "pam")
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"authorization", f"Bearer {key}".encode())])

    connected, _ = await communicator.connect()

    assert connected
    await communicator.disconnect()


async def test_a_cookie_socket_with_a_foreign_origin_is_refused(make_user):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "quin")

    refused = await _greeting(echo_app, "/ws/echo/", [cookie, (b"origin", b"https://evil.example")])
    refused_by_project = await _greeting(application, "/ws/chat/", [cookie, (b"origin", b"https://evil.example")])

    assert refused is None
    assert refused_by_project is None


async def test_a_cookie_socket_without_an_origin_is_refused(make_user):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "rex")

    assert await _greeting(echo_app, "/ws/echo/", [cookie]) is None


async def test_a_cookie_socket_from_the_public_origin_opens(settings, make_user):
    settings.PUBLIC_BASE_URL = "https://systems.example"
    cookie = await database_sync_to_async(_session_cookie)(make_user, "sue")

    message = await _greeting(echo_app, "/ws/echo/", [cookie, (b"origin", b"https://systems.example")])

    assert message == {"type": "websocket.send", "text": '{"hello": "sue"}'}


async def test_a_cookie_socket_from_the_right_origin_opens_on_the_project_app(make_user):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "tom")
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[cookie, ORIGIN])

    connected, _ = await communicator.connect()

    assert connected
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://127.0.0.1", None, True),
        ("http://localhost:8000", None, True),
        ("https://systems.example", None, True),  # PUBLIC_BASE_URL
        ("http://systems.example", None, False),  # the public host over another scheme
        ("https://evil.example", None, False),
        ("https://evil.example", "evil.example", False),  # same host, but not one of ours
        ("https://other.example", "127.0.0.1:8000", False),
        ("null", None, False),
        ("file://", None, False),
        ("http://[::1]:8000", None, True),
        ("http://127.0.0.1.evil.example", None, False),
    ],
)
def test_origin_allowed(settings, origin, host, allowed):
    settings.PUBLIC_BASE_URL = "https://systems.example"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

    assert origin_allowed(origin, host) is allowed


def test_a_wildcard_allowed_hosts_does_not_allow_every_origin(settings):
    settings.ALLOWED_HOSTS = ["*"]

    assert not origin_allowed("https://evil.example", "systems.example")
    assert not origin_allowed("https://evil.example", None)
    assert origin_allowed("https://systems.example", "systems.example")  # the host the socket was opened on
    assert origin_allowed("https://systems.example:8443", "systems.example:8443")


async def test_a_rotated_token_is_refused_on_new_sockets_at_once(make_user):
    key = await _token_of(make_user, "uma")
    assert (await _greeting(echo_app, f"/ws/echo/?token={key}"))["text"] == '{"hello": "uma"}'  # now cached

    user = await database_sync_to_async(lambda: Token.objects.get(key=key).user)()
    new_key = (await database_sync_to_async(token_rotate)(user=user)).key

    assert (await _closed_with(echo_app, f"/ws/echo/?token={key}"))["code"] == UNAUTHENTICATED_CLOSE_CODE
    assert (await _greeting(echo_app, f"/ws/echo/?token={new_key}"))["text"] == '{"hello": "uma"}'


async def test_a_revoked_token_is_refused_on_new_sockets_at_once(make_user):
    key = await _token_of(make_user, "val")
    header = (b"authorization", f"Bearer {key}".encode())
    assert (await _greeting(echo_app, "/ws/echo/", [header]))["text"] == '{"hello": "val"}'  # now cached

    user = await database_sync_to_async(lambda: Token.objects.get(key=key).user)()
    await database_sync_to_async(token_revoke)(user=user, key=key)

    assert (await _closed_with(echo_app, "/ws/echo/", [header]))["code"] == UNAUTHENTICATED_CLOSE_CODE


@pytest.mark.parametrize("change", ["revoke", "rotate"])
async def test_an_open_token_socket_is_closed_at_its_next_frame_once_the_token_dies(make_user, change):
    key = await _token_of(make_user, "wyn")
    communicator = WebsocketCommunicator(echo_app, "/ws/echo/", headers=[(b"authorization", f"Bearer {key}".encode())])
    assert (await communicator.connect())[0]
    assert await communicator.receive_json_from() == {"hello": "wyn"}
    await communicator.send_json_to({"n": 1})
    assert await communicator.receive_json_from() == {"echo": {"n": 1}}

    user = await database_sync_to_async(lambda: Token.objects.get(key=key).user)()
    if change == "revoke":
        await database_sync_to_async(token_revoke)(user=user, key=key)
    else:
        await database_sync_to_async(token_rotate)(user=user)
    await communicator.send_json_to({"n": 2})

    assert await communicator.receive_output() == {"type": "websocket.close", "code": UNAUTHENTICATED_CLOSE_CODE}
    await communicator.wait()


async def test_a_session_socket_keeps_working_frame_after_frame(make_user):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "xan")
    communicator = WebsocketCommunicator(echo_app, "/ws/echo/", headers=[cookie, ORIGIN])
    assert (await communicator.connect())[0]
    assert await communicator.receive_json_from() == {"hello": "xan"}

    for n in range(3):
        await communicator.send_json_to({"n": n})
        assert await communicator.receive_json_from() == {"echo": {"n": n}}
    await communicator.disconnect()


@pytest.mark.parametrize("header", [b"Bearer", b"Bearer two parts", b"Token " + b"x" * 300])
async def test_a_malformed_token_header_is_closed_with_4401_even_with_a_session(make_user, header):
    cookie = await database_sync_to_async(_session_cookie)(make_user, "yul")

    message = await _closed_with(echo_app, "/ws/echo/", [cookie, (b"authorization", header)])

    assert message["code"] == UNAUTHENTICATED_CLOSE_CODE
