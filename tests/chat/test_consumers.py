"""The /ws/chat/ protocol, end to end through config.asgi.application."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Membership, Message, UserPresence
from chat.services.conversations import conversation_create
from chat.services.messages import message_send

pytestmark = pytest.mark.django_db(transaction=True)


async def test_unauthenticated_socket_is_closed():
    from config.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/chat/?token=nope", headers=[(b"origin", b"http://testserver")])
    await communicator.connect()
    output = await communicator.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_send_acks_the_sender_and_reaches_every_device_of_every_member(connect, alice, bob, direct):
    alice_phone = await connect(alice)
    alice_laptop = await connect(alice)
    bob_phone = await connect(bob)
    bob_laptop = await connect(bob)

    await alice_phone.send({"type": "message.send", "conversation": str(direct.id), "client_id": "m1",
                            "content": "hello bob"})

    ack = await alice_phone.receive_type("message.ack")
    assert ack["client_id"] == "m1"
    assert ack["message"]["seq"] == 1
    assert ack["message"]["sender"] == "alice"
    assert ack["message"]["content"] == "hello bob"
    assert isinstance(ack["message"]["id"], str)
    for socket in (bob_phone, bob_laptop, alice_laptop):
        new = await socket.receive_type("message.new")
        assert new["message"] == ack["message"]
    await alice_phone.assert_silent()  # the sending socket gets the ack, not a second copy


async def test_retried_client_id_stores_one_message_and_acks_it_again(connect, alice, bob, direct):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    frame = {"type": "message.send", "conversation": str(direct.id), "client_id": "retry-1", "content": "once"}

    await alice_socket.send(frame)
    first = await alice_socket.receive_type("message.ack")
    await alice_socket.send(frame)
    second = await alice_socket.receive_type("message.ack")

    assert first["message"]["id"] == second["message"]["id"]
    assert await Message.objects.filter(conversation=direct).acount() == 1
    await bob_socket.receive_type("message.new")
    await bob_socket.assert_silent()  # the retry is not announced twice


async def test_concurrent_retries_of_one_client_id_store_one_message(connect, alice, direct):
    sockets = [await connect(alice) for _ in range(4)]
    frame = {"type": "message.send", "conversation": str(direct.id), "client_id": "race", "content": "x"}
    await asyncio.gather(*(s.send(frame) for s in sockets))
    acks = [await s.receive_type("message.ack") for s in sockets]
    assert len({a["message"]["id"] for a in acks}) == 1
    assert await Message.objects.filter(conversation=direct).acount() == 1


async def test_the_same_client_id_from_two_members_stores_and_acks_a_message_for_each(connect, alice, bob, direct):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)

    await alice_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "same",
                             "content": "from alice"})
    alice_ack = await alice_socket.receive_type("message.ack")
    await bob_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "same",
                           "content": "from bob"})
    bob_ack = await bob_socket.receive_type("message.ack")

    assert (alice_ack["message"]["sender"], alice_ack["message"]["content"], alice_ack["message"]["seq"]) == (
        "alice", "from alice", 1)
    assert (bob_ack["client_id"], bob_ack["message"]["sender"], bob_ack["message"]["content"],
            bob_ack["message"]["seq"]) == ("same", "bob", "from bob", 2)
    assert bob_ack["message"]["id"] != alice_ack["message"]["id"]
    stored = [m async for m in Message.objects.filter(conversation=direct).order_by("seq")
              .values_list("sender__username", "client_id", "content")]
    assert stored == [("alice", "same", "from alice"), ("bob", "same", "from bob")]
    # Alice hears Bob's message as a new one, not as a retry of hers.
    assert (await alice_socket.receive_type("message.new"))["message"]["content"] == "from bob"


async def test_sync_never_replays_a_conversation_the_caller_is_not_in(connect, alice, bob, carol, direct):
    def foreign_conversation():
        conversation, _ = conversation_create(creator=bob, usernames=["carol"])
        for n in range(3):
            message_send(sender=bob, conversation_id=conversation.id, client_id=f"s{n}", content=f"secret {n}")
        return conversation

    foreign = await database_sync_to_async(foreign_conversation)()
    await database_sync_to_async(message_send)(sender=bob, conversation_id=direct.id, client_id="m", content="mine")
    alice_socket = await connect(alice)

    await alice_socket.send({"type": "sync", "cursors": {str(foreign.id): 0, str(direct.id): 0}})
    frames = await alice_socket.frames_until("sync.done")

    replayed = [f["message"] for f in frames if f["type"] == "message.new"]
    assert [(m["conversation"], m["content"]) for m in replayed] == [(str(direct.id), "mine")]
    assert frames[-1]["cursors"] == {str(direct.id): 1}


async def test_sync_after_a_disconnect_replays_missed_messages_once_in_order(connect, alice, bob, direct, group):
    bob_socket = await connect(bob)
    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="a", content="1")
    seen = await bob_socket.receive_type("message.new")
    await bob_socket.close()

    for i in range(2, 8):
        await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id=f"d{i}",
                                                   content=str(i))
    for i in range(3):
        await database_sync_to_async(message_send)(sender=alice, conversation_id=group.id, client_id=f"g{i}",
                                                   content=f"g{i}")

    bob_socket = await connect(bob)
    await bob_socket.send({"type": "sync", "cursors": {str(direct.id): seen["message"]["seq"]}})
    frames = await bob_socket.frames_until("sync.done")
    replayed = [f["message"] for f in frames if f["type"] == "message.new"]

    assert [m["seq"] for m in replayed] == [2, 3, 4, 5, 6, 7]
    assert all(m["conversation"] == str(direct.id) for m in replayed)
    # A conversation missing from the cursors replays nothing but reports its position.
    assert frames[-1]["cursors"] == {str(direct.id): 7, str(group.id): 3}


async def test_sync_with_an_up_to_date_cursor_replays_nothing(connect, alice, bob, direct):
    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="a", content="1")
    bob_socket = await connect(bob)
    await bob_socket.send({"type": "sync", "cursors": {str(direct.id): 1}})
    frames = await bob_socket.frames_until("sync.done")
    assert [f["type"] for f in frames if f["type"] != "presence"] == ["sync.done"]
    assert frames[-1]["cursors"] == {str(direct.id): 1}


async def test_receipts_reach_the_sender_and_drive_unread_counts(connect, alice, bob, direct, api_as):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    for i in range(3):
        await alice_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": f"r{i}",
                                 "content": f"m{i}"})
        await alice_socket.receive_type("message.ack")

    unread = (await api_as(bob, "get", "/api/v1/chat/conversations")).json()
    assert unread[0]["unread_count"] == 3

    await bob_socket.send({"type": "receipt", "conversation": str(direct.id), "status": "delivered", "up_to_seq": 3})
    delivered = await alice_socket.receive_type("receipt")
    assert delivered == {"type": "receipt", "conversation": str(direct.id), "user": "bob", "status": "delivered",
                         "up_to_seq": 3}
    await bob_socket.send({"type": "receipt", "conversation": str(direct.id), "status": "read", "up_to_seq": 2})
    read = await alice_socket.receive_type("receipt")
    assert (read["status"], read["up_to_seq"]) == ("read", 2)

    # A stale receipt never moves a pointer back, and is not announced.
    await bob_socket.send({"type": "receipt", "conversation": str(direct.id), "status": "read", "up_to_seq": 1})
    await alice_socket.assert_silent()

    unread = (await api_as(bob, "get", "/api/v1/chat/conversations")).json()
    assert unread[0]["unread_count"] == 1
    detail = (await api_as(alice, "get", f"/api/v1/chat/conversations/{direct.id}")).json()
    assert detail["receipts"]["bob"] == {"delivered_seq": 3, "read_seq": 2}
    assert detail["receipts"]["alice"] == {"delivered_seq": 3, "read_seq": 3}

    await bob_socket.close()  # closing the socket flushes bob's pointers to the database
    membership = await Membership.objects.aget(conversation=direct, user=bob)
    assert (membership.delivered_seq, membership.read_seq) == (3, 2)


async def test_presence_is_one_for_many_sockets_and_last_seen_is_kept(connect, alice, bob, direct, api_as):
    alice_socket = await connect(alice)
    bob_phone = await connect(bob)
    online = await alice_socket.receive_type("presence")
    assert online == {"type": "presence", "user": "bob", "online": True, "last_seen": None}
    bob_laptop = await connect(bob)
    await alice_socket.assert_silent(ignore=())  # a second device is not a new presence

    state = (await api_as(alice, "get", "/api/v1/chat/users/bob/presence")).json()
    assert state["online"] is True

    await bob_phone.close()
    await alice_socket.assert_silent(ignore=())
    await bob_laptop.close()
    offline = await alice_socket.receive_type("presence")
    assert offline["user"] == "bob" and offline["online"] is False and offline["last_seen"]

    state = (await api_as(alice, "get", "/api/v1/chat/users/bob/presence")).json()
    assert state["online"] is False
    assert state["last_seen"] == offline["last_seen"]
    assert await UserPresence.objects.filter(user=bob).aexists()


async def test_ping_answers_pong(connect, alice):
    socket = await connect(alice)
    await socket.send({"type": "ping"})
    assert (await socket.receive_type("pong"))["type"] == "pong"


async def test_typing_reaches_other_members_and_is_throttled(connect, alice, bob, carol, group):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    carol_socket = await connect(carol)
    await alice_socket.send({"type": "typing", "conversation": str(group.id)})
    for socket in (bob_socket, carol_socket):
        assert await socket.receive_type("typing") == {"type": "typing", "conversation": str(group.id),
                                                       "user": "alice"}
    await alice_socket.send({"type": "typing", "conversation": str(group.id)})
    await bob_socket.assert_silent()
    await alice_socket.assert_silent()


async def test_typing_is_not_sent_in_groups_over_100_members(connect, make_user, alice, bob):
    others = [await database_sync_to_async(make_user)() for _ in range(100)]
    conversation, _ = await database_sync_to_async(conversation_create)(
        creator=alice, usernames=["bob", *[u.username for u in others]], title="big")
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    await alice_socket.send({"type": "typing", "conversation": str(conversation.id)})
    await bob_socket.assert_silent()
    await alice_socket.assert_silent()


async def test_edit_delete_and_reactions_are_announced(connect, alice, bob, direct, api_as):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    await alice_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "e",
                             "content": "typo"})
    message_id = (await alice_socket.receive_type("message.ack"))["message"]["id"]
    await bob_socket.receive_type("message.new")
    response = await api_as(alice, "patch", f"/api/v1/chat/messages/{message_id}", {"content": "fixed"})
    assert response.status_code == 200
    edited = (await bob_socket.receive_type("message.updated"))["message"]
    assert edited["content"] == "fixed" and edited["edited_at"]
    assert (await alice_socket.receive_type("message.updated"))["message"] == edited  # the sender's devices too

    response = await api_as(bob, "post", f"/api/v1/chat/messages/{message_id}/reactions", {"emoji": "👍"})
    assert response.status_code == 201
    reacted = (await alice_socket.receive_type("message.updated"))["message"]
    assert reacted["reactions"] == {"👍": ["bob"]}
    assert (await bob_socket.receive_type("message.updated"))["message"] == reacted

    response = await api_as(alice, "delete", f"/api/v1/chat/messages/{message_id}")
    assert response.status_code == 200
    deleted = (await bob_socket.receive_type("message.updated"))["message"]
    assert deleted["deleted"] is True and deleted["content"] == "" and deleted["seq"] == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ('["a list"]', "invalid"),
        ({"type": "dance"}, "unknown_type"),
        ({"type": "message.send", "conversation": "1", "client_id": "x", "content": "hi", "ref": 7}, "not_found"),
        ({"type": "receipt", "conversation": "1", "status": "read", "up_to_seq": 1}, "not_found"),
        ({"type": "typing", "conversation": "abc"}, "not_found"),
        ({"type": "sync", "cursors": ["no"]}, "invalid"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(connect, alice, direct, frame, code):
    socket = await connect(alice)
    await socket.send(frame)
    error = await socket.receive_type("error")
    assert error["code"] == code and error["error"]
    if isinstance(frame, dict) and "ref" in frame:
        assert error["ref"] == 7
    await socket.send({"type": "ping"})
    assert (await socket.receive_type("pong"))["type"] == "pong"


async def test_too_long_and_non_member_sends_are_refused(connect, alice, carol, direct):
    alice_socket = await connect(alice)
    await alice_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "long",
                             "content": "x" * 4001})
    error = await alice_socket.receive_type("error")
    assert (error["code"], error["ref"]) == ("too_long", "long")

    carol_socket = await connect(carol)
    await carol_socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "intruder",
                             "content": "hi"})
    assert (await carol_socket.receive_type("error"))["code"] == "not_found"
    assert await Message.objects.filter(conversation=direct).acount() == 0


async def test_sends_over_the_rate_limit_get_an_error_frame(connect, alice, direct, settings):
    settings.CHAT_SEND_RATE_LIMIT = (3, 60)
    socket = await connect(alice)
    for i in range(3):
        await socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": f"rl{i}",
                           "content": "hi"})
        await socket.receive_type("message.ack")
    await socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "rl3", "content": "hi"})
    error = await socket.receive_type("error")
    assert error["code"] == "rate_limited" and error["retry_after"] >= 1
    assert await Message.objects.filter(conversation=direct).acount() == 3


async def test_a_blocked_user_cannot_send_direct_messages(connect, alice, bob, direct, api_as):
    response = await api_as(bob, "post", "/api/v1/chat/blocks", {"username": "alice"})
    assert response.status_code == 201
    socket = await connect(alice)
    await socket.send({"type": "message.send", "conversation": str(direct.id), "client_id": "b", "content": "hi"})
    assert (await socket.receive_type("error"))["code"] == "blocked"


async def test_an_unexpected_failure_answers_an_error_and_keeps_the_socket(connect, alice, direct, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("chat.consumers.receipt_record", broken)
    socket = await connect(alice)
    await socket.send({"type": "receipt", "conversation": str(direct.id), "status": "read", "up_to_seq": 1,
                       "ref": "r1"})
    error = await socket.receive_type("error")
    assert (error["code"], error["ref"]) == ("internal_error", "r1")
    await socket.send({"type": "ping"})
    assert (await socket.receive_type("pong"))["type"] == "pong"


async def test_a_rest_send_reaches_every_socket_including_the_senders(connect, alice, bob, direct, api_as):
    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    response = await api_as(alice, "post", f"/api/v1/chat/conversations/{direct.id}/messages",
                            {"content": "from the api", "client_id": "rest-1"})
    assert response.status_code == 201
    for socket in (alice_socket, bob_socket):
        assert (await socket.receive_type("message.new"))["message"]["id"] == response.json()["id"]


async def test_peers_learn_of_the_last_close_even_when_the_receipt_flush_fails(connect, alice, bob, direct):
    from unittest import mock

    alice_socket = await connect(alice)
    bob_socket = await connect(bob)
    await alice_socket.receive_type("presence")
    with mock.patch("chat.services.receipts.receipts_flush_user", side_effect=RuntimeError("database away")):
        await bob_socket.close()
        offline = await alice_socket.receive_type("presence")
    assert offline["user"] == "bob" and offline["online"] is False and offline["last_seen"]


async def test_a_frame_racing_the_close_of_a_socket_still_counts_the_socket_out(connect, alice, bob, direct):
    """uvicorn raises on a send to a socket whose client just left, with the disconnect queued
    behind: the consumer must still run its close, or peers see the user online for a minute."""
    from uvicorn.protocols.utils import ClientDisconnected

    from chat import events, store
    from config.asgi import application
    from core.services import token_for

    alice_socket = await connect(alice)
    token = await database_sync_to_async(token_for)(bob)
    inbox: asyncio.Queue = asyncio.Queue()
    client_gone, send_failed = asyncio.Event(), asyncio.Event()

    async def server_send(message: dict) -> None:
        if client_gone.is_set():
            send_failed.set()
            raise ClientDisconnected()

    scope = {"type": "websocket", "path": "/ws/chat/", "query_string": f"token={token.key}".encode(),
             "headers": [(b"origin", b"http://testserver")], "subprotocols": []}
    bob_socket = asyncio.ensure_future(application(scope, inbox.get, server_send))
    await inbox.put({"type": "websocket.connect"})
    assert (await alice_socket.receive_type("presence"))["online"] is True

    client_gone.set()  # bob's page closes while alice's typing is on its way to it
    await events.apublish([bob.id], events.typing(direct.id, "alice"))
    await asyncio.wait_for(send_failed.wait(), 3)
    await inbox.put({"type": "websocket.disconnect", "code": 1001})
    await asyncio.wait({bob_socket}, timeout=15)  # a loaded machine may take a while to unwind the layer receive

    offline = await alice_socket.receive_type("presence")
    assert (offline["user"], offline["online"], bool(offline["last_seen"])) == ("bob", False, True)
    assert await database_sync_to_async(store.users_with_open_sockets)([bob.id]) == set()
    assert bob_socket.done() and bob_socket.exception() is None


async def test_presence_goes_only_to_users_sharing_a_direct_conversation(connect, alice, bob, carol, direct, group):
    alice_socket = await connect(alice)
    carol_socket = await connect(carol)  # shares only the group with bob
    await connect(bob)
    assert (await alice_socket.receive_type("presence"))["user"] == "bob"
    await carol_socket.assert_silent(ignore=())


async def test_a_message_received_live_is_not_replayed_again_by_sync(connect, alice, bob, direct):
    bob_socket = await connect(bob)
    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="a", content="1")
    live = await bob_socket.receive_type("message.new")
    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="b", content="2")
    await bob_socket.receive_type("message.new")

    # The client's cursor is older than what this socket already delivered (e.g. it synced
    # before processing the live frames): the replay sends only what the socket never sent.
    await bob_socket.send({"type": "sync", "cursors": {str(direct.id): 0}})
    frames = await bob_socket.frames_until("sync.done")

    assert live["message"]["seq"] == 1
    assert [f for f in frames if f["type"] == "message.new"] == []
    assert frames[-1]["cursors"] == {str(direct.id): 2}


async def test_a_live_event_for_a_message_sync_already_replayed_is_dropped(connect, alice, bob, direct):
    from chat import events

    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="a", content="1")
    bob_socket = await connect(bob)
    await bob_socket.send({"type": "sync", "cursors": {str(direct.id): 0}})
    frames = await bob_socket.frames_until("sync.done")
    replayed = [f["message"] for f in frames if f["type"] == "message.new"]
    assert [m["seq"] for m in replayed] == [1]

    # The live announcement of the replayed message arrives late (it was queued behind the
    # sync): the socket drops it; the next new message still arrives live.
    await events.apublish([bob.id], events.message_new(replayed[0]))
    await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id, client_id="b", content="2")
    nxt = await bob_socket.receive_type("message.new")

    assert nxt["message"]["seq"] == 2


async def test_a_new_group_and_member_changes_reach_the_members_sockets(connect, alice, bob, carol):
    from chat.services.conversations import conversation_create, members_add, members_remove

    bob_socket = await connect(bob)
    carol_socket = await connect(carol)

    group, _ = await database_sync_to_async(conversation_create)(creator=alice, usernames=["bob"], title="Plans")
    created = await bob_socket.receive_type("conversation.updated")
    assert created == {"type": "conversation.updated", "conversation": str(group.id), "change": "created"}

    await database_sync_to_async(members_add)(actor=alice, conversation_id=group.id, usernames=["carol"])
    assert (await carol_socket.receive_type("conversation.updated"))["change"] == "members"
    assert (await bob_socket.receive_type("conversation.updated"))["change"] == "members"

    await database_sync_to_async(members_remove)(actor=alice, conversation_id=group.id, usernames=["carol"])
    removed = await carol_socket.receive_type("conversation.updated")
    assert removed["conversation"] == str(group.id)
