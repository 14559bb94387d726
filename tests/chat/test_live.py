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


HOSTILE_FRAME_IDS = ["99999999999999999999", "9223372036854775808", "-1", "abc", 99999999999999999999,
                     9223372036854775808, -1, True, None, 1.5, [], {}]


def _answer(socket, frame: dict) -> dict:
    socket.send(json.dumps({**frame, "ref": "hostile"}))
    return _next(socket, "error")


def test_live_hostile_ids_in_frames_get_error_frames_and_the_socket_stays_open(live_asgi_server, alice, bob, direct):
    with _socket(live_asgi_server, alice) as socket:
        for value in HOSTILE_FRAME_IDS:
            for frame in ({"type": "message.send", "conversation": value, "client_id": "h", "content": "x"},
                          {"type": "typing", "conversation": value},
                          {"type": "receipt", "conversation": value, "status": "read", "up_to_seq": 1}):
                error = _answer(socket, frame)
                assert (error["code"], error["ref"]) == ("not_found", "hostile"), (frame, error)
            error = _answer(socket, {"type": "message.send", "conversation": str(direct.id), "client_id": "h",
                                     "content": "x", "attachment_ids": [value]})
            assert error["code"] == "invalid" and "attachment_ids" in error["fields"], (value, error)
        for cursors in ({"99999999999999999999": 0}, {"-1": 0}, {str(direct.id): -1},
                        {str(direct.id): 99999999999999999999}, {str(direct.id): 9223372036854775808}):
            error = _answer(socket, {"type": "sync", "cursors": cursors})
            assert error["code"] == "invalid" and error["ref"] == "hostile", (cursors, error)
        socket.send(json.dumps({"type": "ping"}))
        assert _next(socket, "pong") == {"type": "pong"}
    from chat.models import Message

    assert not Message.objects.exists()


@pytest.mark.parametrize("value", ["abc", -1, True, None, 1.5])
def test_live_hostile_receipt_seqs_are_invalid(live_asgi_server, alice, bob, direct, value):
    with _socket(live_asgi_server, alice) as socket:
        error = _answer(socket, {"type": "receipt", "conversation": str(direct.id), "status": "read",
                                 "up_to_seq": value})
        assert error["code"] == "invalid" and "up_to_seq" in error["fields"]


def test_live_receipt_seq_past_64_bits_is_capped_not_an_error(live_asgi_server, alice, bob, direct):
    with _socket(live_asgi_server, alice) as socket:
        socket.send(json.dumps({"type": "receipt", "conversation": str(direct.id), "status": "read",
                                "up_to_seq": 99999999999999999999}))
        socket.send(json.dumps({"type": "ping"}))
        assert _next_of(socket, ("pong", "error"))["type"] == "pong"


def _next_of(socket, frame_types: tuple[str, ...]) -> dict:
    while True:
        frame = json.loads(socket.recv(timeout=5))
        if frame["type"] in frame_types:
            return frame


def test_live_presence_reaches_only_people_sharing_a_conversation(live_asgi_server, alice, bob, carol, direct):
    with _socket(live_asgi_server, bob) as bob_socket, _socket(live_asgi_server, carol) as carol_socket:
        with _socket(live_asgi_server, alice):
            assert _next(bob_socket, "presence") == {"type": "presence", "user": "alice", "online": True,
                                                     "last_seen": None}
        offline = _next(bob_socket, "presence")
        assert offline["user"] == "alice" and offline["online"] is False and offline["last_seen"]
        carol_socket.send(json.dumps({"type": "ping"}))
        frames = []
        while (frame := json.loads(carol_socket.recv(timeout=5)))["type"] != "pong":
            frames.append(frame)
        assert [f for f in frames if f["type"] == "presence" and f["user"] == "alice"] == []
