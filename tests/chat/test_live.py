"""The chat over a real server (uvicorn + the Redis channel layer) with the ``websockets`` client."""

import json

import pytest
from websockets.sync.client import connect

from core.services import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _socket(base_url: str, user):
    url = base_url.replace("http://", "ws://") + f"/ws/chat/?token={token_for(user).key}"
    return connect(url, origin="http://127.0.0.1", open_timeout=5)


def _next(socket, frame_type: str) -> dict:
    while True:
        frame = json.loads(socket.recv(timeout=5))
        if frame["type"] == frame_type:
            return frame


def test_live_send_reconnect_and_sync(live_asgi_server, alice, bob, direct):
    with _socket(live_asgi_server, alice) as alice_socket, _socket(live_asgi_server, bob) as bob_socket:
        alice_socket.send(json.dumps({"type": "message.send", "conversation": str(direct.id), "client_id": "l1",
                                      "content": "over the wire"}))
        ack = _next(alice_socket, "message.ack")
        assert _next(bob_socket, "message.new")["message"] == ack["message"]

    with _socket(live_asgi_server, alice) as alice_socket:
        for i in range(2, 6):
            alice_socket.send(json.dumps({"type": "message.send", "conversation": str(direct.id),
                                          "client_id": f"l{i}", "content": str(i)}))
            _next(alice_socket, "message.ack")

    with _socket(live_asgi_server, bob) as bob_socket:
        bob_socket.send(json.dumps({"type": "sync", "cursors": {str(direct.id): 1}}))
        replayed = []
        while (frame := json.loads(bob_socket.recv(timeout=5)))["type"] != "sync.done":
            if frame["type"] == "message.new":
                replayed.append(frame["message"]["seq"])
        assert replayed == [2, 3, 4, 5]
        assert frame["cursors"] == {str(direct.id): 5}


def test_live_socket_without_credentials_is_closed_with_4401(live_asgi_server):
    from websockets.exceptions import ConnectionClosed

    url = live_asgi_server.replace("http://", "ws://") + "/ws/chat/"
    with connect(url, origin="http://127.0.0.1", open_timeout=5) as socket, pytest.raises(ConnectionClosed) as info:
        socket.recv(timeout=5)
    assert info.value.rcvd.code == 4401
