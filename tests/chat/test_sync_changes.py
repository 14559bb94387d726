"""The change cursor: ``sync`` replays edits, deletes and reactions made while a device was away."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, MessageChange
from chat.services.messages import message_delete, message_edit, message_send, reaction_add, reaction_remove
from tests.chat.test_services import _run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def _send_three(alice, direct) -> list[dict]:
    return [message_send(sender=alice, conversation_id=direct.id, client_id=f"m{n}", content=f"message {n}")[0]
            for n in range(1, 4)]


async def _sync(socket, cursors: dict, changes: dict | None) -> tuple[list[dict], dict]:
    frame = {"type": "sync", "cursors": cursors}
    if changes is not None:
        frame["changes"] = changes
    await socket.send(frame)
    frames = await socket.frames_until("sync.done")
    return [f for f in frames if f["type"] in ("message.new", "message.updated")], frames[-1]


async def test_sync_replays_changes_made_while_away_once_each_in_order(connect, alice, bob, direct):
    first, second, third = await database_sync_to_async(_send_three)(alice, direct)
    key = str(direct.id)

    def while_bob_is_away():
        message_edit(user=alice, message_id=first["id"], content="message 1, edited")
        reaction_add(user=bob, message_id=second["id"], emoji="👍")  # from bob's other device
        message_delete(user=alice, message_id=third["id"])
        message_edit(user=alice, message_id=first["id"], content="message 1, edited twice")

    await database_sync_to_async(while_bob_is_away)()
    bob_socket = await connect(bob)
    replayed, done = await _sync(bob_socket, {key: 3}, {key: 0})

    assert [(f["type"], f["message"]["seq"], f["change"]) for f in replayed] == [
        ("message.updated", 2, 2), ("message.updated", 3, 3), ("message.updated", 1, 4)]
    assert replayed[0]["message"]["reactions"] == {"👍": ["bob"]}
    assert replayed[1]["message"]["deleted"] is True and replayed[1]["message"]["content"] == ""
    assert replayed[2]["message"]["content"] == "message 1, edited twice"
    assert done["changes"] == {key: 4} and done["cursors"] == {key: 3}

    again, done_again = await _sync(bob_socket, {key: 3}, done["changes"])
    assert again == [] and done_again["changes"] == {key: 4}


async def test_changes_after_the_cursor_only(connect, alice, bob, direct):
    first, second, _ = await database_sync_to_async(_send_three)(alice, direct)
    key = str(direct.id)
    await database_sync_to_async(message_edit)(user=alice, message_id=first["id"], content="seen before")
    bob_socket = await connect(bob)
    _, done = await _sync(bob_socket, {key: 3}, {key: 0})
    assert done["changes"] == {key: 1}
    await bob_socket.close()

    await database_sync_to_async(reaction_add)(user=alice, message_id=second["id"], emoji="🎉")
    await database_sync_to_async(reaction_remove)(user=alice, message_id=second["id"], emoji="🎉")
    later = await connect(bob)
    replayed, done = await _sync(later, {key: 3}, {key: 1})
    assert [(f["message"]["seq"], f["change"], f["message"]["reactions"]) for f in replayed] == [(2, 3, {})]
    assert done["changes"] == {key: 3}


async def test_a_conversation_missing_from_the_change_cursors_replays_nothing_but_reports_its_position(
        connect, alice, bob, direct):
    first, *_ = await database_sync_to_async(_send_three)(alice, direct)
    await database_sync_to_async(message_edit)(user=alice, message_id=first["id"], content="edited")
    bob_socket = await connect(bob)
    replayed, done = await _sync(bob_socket, {str(direct.id): 3}, None)
    assert replayed == [] and done["changes"] == {str(direct.id): 1}


async def test_a_message_newer_than_the_seq_cursor_comes_once_as_new_in_its_changed_state(connect, alice, bob, direct):
    first, _, third = await database_sync_to_async(_send_three)(alice, direct)
    await database_sync_to_async(message_edit)(user=alice, message_id=third["id"], content="third, edited")
    bob_socket = await connect(bob)
    replayed, done = await _sync(bob_socket, {str(direct.id): 2}, {str(direct.id): 0})
    assert [(f["type"], f["message"]["seq"], f["message"]["content"]) for f in replayed] == [
        ("message.new", 3, "third, edited")]
    assert done["changes"] == {str(direct.id): 1}


async def test_a_change_the_socket_got_live_is_not_replayed_again(connect, alice, bob, direct):
    first, *_ = await database_sync_to_async(_send_three)(alice, direct)
    bob_socket = await connect(bob)
    await database_sync_to_async(message_edit)(user=alice, message_id=first["id"], content="live edit")
    live = await bob_socket.receive_type("message.updated")
    assert (live["change"], live["message"]["content"]) == (1, "live edit")

    replayed, done = await _sync(bob_socket, {str(direct.id): 3}, {str(direct.id): 0})
    assert replayed == [] and done["changes"] == {str(direct.id): 1}


async def test_a_live_change_the_sync_already_replayed_is_dropped(connect, alice, bob, direct):
    first, *_ = await database_sync_to_async(_send_three)(alice, direct)
    bob_socket = await connect(bob)
    await bob_socket.close()  # away: the live event goes nowhere
    await database_sync_to_async(message_edit)(user=alice, message_id=first["id"], content="while away")
    again = await connect(bob)
    replayed, _ = await _sync(again, {str(direct.id): 3}, {str(direct.id): 0})
    assert [f["change"] for f in replayed] == [1]
    # A copy of change 1 reaching the socket after the replay (a slow fan-out) is not delivered twice,
    # while a later change still is.
    from chat import events

    await events.apublish([bob.id], events.message_updated(replayed[0]["message"], change=1))
    await again.assert_silent()
    await events.apublish([bob.id], events.message_updated(replayed[0]["message"], change=2))
    assert (await again.receive_type("message.updated"))["change"] == 2


async def test_someone_outside_the_conversation_gets_no_changes(connect, alice, bob, carol, direct):
    first, *_ = await database_sync_to_async(_send_three)(alice, direct)
    await database_sync_to_async(message_edit)(user=alice, message_id=first["id"], content="private edit")
    carol_socket = await connect(carol)
    replayed, done = await _sync(carol_socket, {str(direct.id): 0}, {str(direct.id): 0})
    assert replayed == [] and done["changes"] == {}


@pytest.mark.parametrize("changes", [{"99999999999999999999": 0}, {"-1": 0}, {"x": 0}, ["no"],
                                     {"1": -1}, {"1": 99999999999999999999}, {"1": "abc"}])
async def test_hostile_change_cursors_are_an_error_frame(connect, alice, bob, direct, changes):
    alice_socket = await connect(alice)
    await alice_socket.send({"type": "sync", "cursors": {}, "changes": changes, "ref": "s"})
    error = await alice_socket.receive_type("error")
    assert error["code"] == "invalid" and error["ref"] == "s"


def test_concurrent_changes_get_distinct_increasing_numbers(alice, bob, direct):
    messages = _send_three(alice, direct)

    _run_concurrently(len(messages), lambda i: message_edit(user=alice, message_id=messages[i]["id"],
                                                             content=f"{messages[i]['content']} (edited)"))

    assert Conversation.objects.get(id=direct.id).last_change == 3
    assert sorted(MessageChange.objects.values_list("change", flat=True)) == [1, 2, 3]


def test_the_conversation_payload_carries_the_change_position(client_for, alice, bob, direct):
    first, *_ = _send_three(alice, direct)
    message_edit(user=alice, message_id=first["id"], content="edited")
    api = client_for(bob)
    assert api.get(f"/api/v1/chat/conversations/{direct.id}").json()["last_change"] == 1
    assert api.get("/api/v1/chat/conversations").json()[0]["last_change"] == 1
