"""Crafted frames on /ws/chat/: each gets an error frame and the socket stays usable, never a crash."""

import json

import pytest

from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


async def _still_answers(socket) -> None:
    await socket.send({"type": "ping"})
    assert (await socket.receive_type("pong"))["type"] == "pong"


@pytest.mark.parametrize("depth", [100, 5_000, 200_000])
async def test_a_deeply_nested_frame_is_an_invalid_json_error(connect, alice, depth):
    socket = await connect(alice)
    await socket.send('{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}")
    error = await socket.receive_type("error")
    assert error["code"] == "invalid_json" and "deeper" in error["error"]
    await _still_answers(socket)


async def test_a_frame_of_megabytes_is_refused_unread_and_stores_nothing(connect, alice, direct):
    socket = await connect(alice)
    await socket.send(json.dumps({"type": "message.send", "conversation": str(direct.id), "client_id": "big",
                                  "content": "x" * 3_000_000}))
    error = await socket.receive_type("error")
    assert error["code"] == "frame_too_large"
    assert await Message.objects.filter(conversation=direct).acount() == 0
    await _still_answers(socket)


async def test_a_binary_frame_holding_json_is_handled_like_text(connect, alice):
    socket = await connect(alice)
    await socket.communicator.send_to(bytes_data=b'{"type": "ping"}')
    assert (await socket.receive_type("pong"))["type"] == "pong"


@pytest.mark.parametrize("payload", [b"\xff\xfe\x00\x01binary", b"\x89PNG\r\n\x1a\n\x00\x00", b" "])
async def test_a_binary_frame_that_is_not_json_is_an_invalid_json_error(connect, alice, payload):
    socket = await connect(alice)
    await socket.communicator.send_to(bytes_data=payload)
    assert (await socket.receive_type("error"))["code"] == "invalid_json"
    await _still_answers(socket)


@pytest.mark.parametrize(
    "kind", [["message.send"], {"a": 1}, None, 7, True, "", pytest.param("x" * 10_000, id="10k-chars"), "__init__"]
)
async def test_a_frame_type_that_is_no_known_name_is_an_unknown_type_error(connect, alice, kind):
    socket = await connect(alice)
    await socket.send({"type": kind, "ref": "r1"})
    error = await socket.receive_type("error")
    assert error["code"] == "unknown_type" and error["ref"] == "r1"
    assert len(error["error"]) < 300  # a huge type is not echoed back whole
    await _still_answers(socket)


@pytest.mark.parametrize(
    "fields",
    [
        {"conversation": {"$gt": ""}, "client_id": "a", "content": "hi"},
        {"conversation": ["1"], "client_id": "a", "content": "hi"},
        {"conversation": "99999999999999999999", "client_id": "a", "content": "hi"},
        {"conversation": "-1", "client_id": "a", "content": "hi"},
        {"conversation": "CONVERSATION", "client_id": ["a"], "content": "hi"},
        {"conversation": "CONVERSATION", "client_id": "a", "content": {"text": "hi"}},
        {"conversation": "CONVERSATION", "client_id": "a", "content": "hi", "attachment_ids": "1"},
        {"conversation": "CONVERSATION", "client_id": "a", "content": "hi", "attachment_ids": ["9223372036854775808"]},
        pytest.param({"conversation": "CONVERSATION", "client_id": "a" * 10_000, "content": "hi"}, id="10k-client-id"),
    ],
)
async def test_a_send_with_hostile_fields_is_a_client_error_frame(connect, alice, direct, fields):
    socket = await connect(alice)
    if fields["conversation"] == "CONVERSATION":
        fields = {**fields, "conversation": str(direct.id)}
    await socket.send({"type": "message.send", **fields})
    error = await socket.receive_type("error")
    assert error["code"] not in ("internal_error", None), error
    assert await Message.objects.filter(conversation=direct).acount() == 0
    await _still_answers(socket)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "receipt", "conversation": "CONVERSATION", "status": "read", "up_to_seq": "9" * 30},
        {"type": "receipt", "conversation": "CONVERSATION", "status": ["read"], "up_to_seq": 1},
        {"type": "receipt", "conversation": "CONVERSATION", "status": "read", "up_to_seq": -5},
        {"type": "typing", "conversation": {"id": 1}},
        {"type": "sync", "cursors": {"CONVERSATION": "9" * 30}},
        {"type": "sync", "cursors": {"9" * 30: 0}},
        {"type": "sync", "changes": [1, 2]},
    ],
)
async def test_other_frames_with_hostile_fields_are_client_error_frames(connect, alice, direct, frame):
    socket = await connect(alice)
    text = json.dumps(frame).replace("CONVERSATION", str(direct.id))
    await socket.send(text)
    frames = await socket.frames_until("error") if frame["type"] != "sync" else None
    if frames is None:  # a sync either refuses the cursors or answers with nothing to replay
        reply = await socket.receive()
        while reply["type"] not in ("error", "sync.done"):
            reply = await socket.receive()
        assert reply["type"] == "sync.done" or reply["code"] not in ("internal_error", None), reply
    else:
        assert frames[-1]["code"] not in ("internal_error", None), frames[-1]
    await _still_answers(socket)
