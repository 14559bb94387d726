"""One token check everywhere: Token and Bearer on the API, the hot path and WebSockets, and a
token deleted through the API refused at once on all three."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core.services import token_for
from core.ws_auth import UNAUTHENTICATED_CLOSE_CODE
from tests.core.test_tokens_api import ME, TOKEN, _client
from tests.shortener.test_fastpath import asgi_post

pytestmark = pytest.mark.django_db(transaction=True)


async def _socket_opens(header: str) -> bool:
    """Whether the project's chat socket accepts this Authorization header (no Origin: a native app)."""
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"authorization", header.encode())])
    connected, _ = await communicator.connect()
    assert connected  # refusals are accepted first so the close code reaches the client
    while not await communicator.receive_nothing(0.5):
        frame = await communicator.receive_output()
        if frame["type"] == "websocket.close":
            assert frame["code"] == UNAUTHENTICATED_CLOSE_CODE
            await communicator.wait()
            return False
    await communicator.disconnect()
    return True


async def _hot_shorten_with(header: str) -> int:
    status, headers, _ = await asgi_post("/api/v1/shorten", b'{"long_url": "https://example.com/t"}',
                                         [(b"authorization", header.encode())])
    assert b"x-frame-options" not in headers  # answered by the hot handler, not Django
    return status


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
async def test_a_token_deleted_through_the_api_dies_at_once_on_the_api_the_hot_path_and_sockets(make_user, scheme):
    user = await sync_to_async(make_user)("tia")
    header = f"{scheme} {(await sync_to_async(token_for)(user)).key}"
    # Each surface has now seen (and cached) the key.
    assert (await sync_to_async(_client(header).get)(ME)).status_code == 200
    assert await _hot_shorten_with(header) == 201
    assert await _socket_opens(header)

    assert (await sync_to_async(_client(header).delete)(TOKEN)).status_code == 204

    refused = await sync_to_async(_client(header).get)(ME)
    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"
    assert await _hot_shorten_with(header) == 401
    assert not await _socket_opens(header)
