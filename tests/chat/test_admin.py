"""The chat admin goes through the services: staff changes are announced and keep the limits."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from chat.models import MAX_MEMBERS, Conversation, Membership, Message, Reaction
from chat.services.conversations import conversation_create
from chat.services.messages import message_send, reaction_add

pytestmark = pytest.mark.django_db(transaction=True)


def _messages_shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _add_member(admin_client, conversation, user, role="member"):
    return admin_client.post("/admin/chat/membership/add/",
                             {"conversation": str(conversation.id), "user": str(user.id), "role": role})


async def test_an_admin_delete_of_a_message_is_announced_to_members_sockets(admin_client, connect, alice, bob, direct):
    stored, _ = await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id,
                                                           client_id="m1", content="rude words")
    await database_sync_to_async(reaction_add)(user=bob, message_id=stored["id"], emoji="👍")
    alice_socket, bob_socket = await connect(alice), await connect(bob)

    response = await database_sync_to_async(admin_client.post)(
        f"/admin/chat/message/{stored['id']}/delete/", {"post": "yes"})

    assert response.status_code == 302
    for socket in (alice_socket, bob_socket):
        event = await socket.receive_type("message.updated")
        assert (event["message"]["id"], event["message"]["deleted"], event["message"]["content"]) == (
            stored["id"], True, "")
        assert event["message"]["reactions"] == {}
    # A tombstone, as the sender's own delete leaves: the seqs stay gapless.
    message = await Message.objects.aget(id=int(stored["id"]))
    assert (message.seq, message.deleted, message.content) == (1, True, "")
    assert await Reaction.objects.filter(message=message).acount() == 0


async def test_the_admin_delete_action_tombstones_each_message_and_announces_it(admin_client, connect, alice, bob,
                                                                              direct):
    ids = []
    for n in range(2):
        stored, _ = await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id,
                                                               client_id=f"m{n}", content=f"text {n}")
        ids.append(stored["id"])
    bob_socket = await connect(bob)

    response = await database_sync_to_async(admin_client.post)(
        "/admin/chat/message/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})

    assert response.status_code == 302
    announced = {(await bob_socket.receive_type("message.updated"))["message"]["id"] for _ in ids}
    assert announced == set(ids)
    rows = [(m.seq, m.deleted) async for m in Message.objects.filter(conversation=direct).order_by("seq")]
    assert rows == [(1, True), (2, True)]


async def test_an_admin_edit_of_a_message_is_announced(admin_client, connect, alice, bob, direct):
    stored, _ = await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id,
                                                           client_id="m1", content="typo")
    bob_socket = await connect(bob)

    response = await database_sync_to_async(admin_client.post)(
        f"/admin/chat/message/{stored['id']}/change/",
        {"content": "fixed by staff", "attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0"})

    assert response.status_code == 302
    event = await bob_socket.receive_type("message.updated")
    assert (event["message"]["content"], event["message"]["edited_at"] is not None) == ("fixed by staff", True)


def test_an_admin_edit_is_held_to_the_same_limits_on_the_text(admin_client, alice, bob, direct):
    stored, _ = message_send(sender=alice, conversation_id=direct.id, client_id="m1", content="keep me")

    response = admin_client.post(f"/admin/chat/message/{stored['id']}/change/",
                                 {"content": "   ", "attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0"})

    assert response.status_code == 302
    assert _messages_shown(response) == ["content: A message needs content or attachments."]
    assert Message.objects.get(id=int(stored["id"])).content == "keep me"


def test_a_deleted_message_cannot_be_brought_back_or_edited_in_the_admin(admin_client, alice, bob, direct):
    stored, _ = message_send(sender=alice, conversation_id=direct.id, client_id="m1", content="gone")
    admin_client.post(f"/admin/chat/message/{stored['id']}/delete/", {"post": "yes"})

    admin_client.post(f"/admin/chat/message/{stored['id']}/change/",
                      {"content": "back", "attachments-TOTAL_FORMS": "0", "attachments-INITIAL_FORMS": "0"})

    message = Message.objects.get(id=int(stored["id"]))
    assert (message.deleted, message.content) == (True, "")


def test_messages_and_conversations_are_not_created_in_the_admin(admin_client):
    assert admin_client.get("/admin/chat/message/add/").status_code == 403
    assert admin_client.get("/admin/chat/conversation/add/").status_code == 403


def test_adding_a_501st_member_in_the_admin_is_refused_with_a_message(admin_client):
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"member{i:03}") for i in range(MAX_MEMBERS + 1)])
    group, _ = conversation_create(creator=users[0], usernames=[u.username for u in users[1:MAX_MEMBERS]],
                                   title="full")
    assert Membership.objects.filter(conversation=group).count() == MAX_MEMBERS

    response = _add_member(admin_client, group, users[MAX_MEMBERS])

    assert response.status_code == 302
    assert _messages_shown(response) == [f"members: A conversation has at most {MAX_MEMBERS} members."]
    assert Membership.objects.filter(conversation=group).count() == MAX_MEMBERS
    assert not Membership.objects.filter(conversation=group, user=users[MAX_MEMBERS]).exists()
    # The conversation's page still opens and saves: members are not posted with it.
    page = admin_client.get(f"/admin/chat/conversation/{group.id}/change/")
    assert page.status_code == 200 and f"{MAX_MEMBERS} members" in page.content.decode()
    assert admin_client.post(f"/admin/chat/conversation/{group.id}/change/", {"title": "renamed"}).status_code == 302
    assert Conversation.objects.get(id=group.id).title == "renamed"


async def test_members_added_and_removed_in_the_admin_hear_of_it(admin_client, connect, alice, bob, carol,
                                                                  make_user):
    dave = await database_sync_to_async(make_user)("dave")
    group, _ = await database_sync_to_async(conversation_create)(creator=alice, usernames=["bob", "carol"],
                                                                 title="Team")
    sockets = {user.username: await connect(user) for user in (alice, bob, carol, dave)}

    added = await database_sync_to_async(_add_member)(admin_client, group, dave)
    assert added.status_code == 302
    for name in ("alice", "bob", "carol", "dave"):
        event = await sockets[name].receive_type("conversation.updated")
        assert (event["conversation"], event["change"]) == (str(group.id), "members")

    carols = await Membership.objects.aget(conversation=group, user=carol)
    removed = await database_sync_to_async(admin_client.post)(f"/admin/chat/membership/{carols.id}/delete/",
                                                              {"post": "yes"})
    assert removed.status_code == 302
    for name in ("alice", "bob", "carol", "dave"):  # carol hears of her own removal too
        event = await sockets[name].receive_type("conversation.updated")
        assert (event["conversation"], event["change"]) == (str(group.id), "members")
    members = {m.user.username async for m in Membership.objects.filter(conversation=group).select_related("user")}
    assert members == {"alice", "bob", "dave"}


def test_a_direct_conversations_members_cannot_change_in_the_admin(admin_client, alice, bob, carol, direct):
    response = _add_member(admin_client, direct, carol)
    assert _messages_shown(response) == ["members: A direct conversation's members cannot change."]

    bobs = Membership.objects.get(conversation=direct, user=bob)
    response = admin_client.post(f"/admin/chat/membership/{bobs.id}/delete/", {"post": "yes"})
    assert _messages_shown(response)[-1] == "members: A direct conversation's members cannot change."
    assert Membership.objects.filter(conversation=direct).count() == 2


def test_a_role_change_in_the_admin_is_saved_and_a_member_cannot_be_moved(admin_client, alice, bob, group):
    bobs = Membership.objects.get(conversation=group, user=bob)

    response = admin_client.post(f"/admin/chat/membership/{bobs.id}/change/",
                                 {"role": "admin", "user": str(alice.id)})

    assert response.status_code == 302
    bobs.refresh_from_db()
    assert (bobs.user_id, bobs.role) == (bob.id, "admin")


async def test_an_admin_delete_of_a_reaction_is_announced(admin_client, connect, alice, bob, direct):
    stored, _ = await database_sync_to_async(message_send)(sender=alice, conversation_id=direct.id,
                                                           client_id="m1", content="hi")
    await database_sync_to_async(reaction_add)(user=bob, message_id=stored["id"], emoji="👍")
    reaction = await Reaction.objects.aget(message_id=int(stored["id"]))
    alice_socket = await connect(alice)

    response = await database_sync_to_async(admin_client.post)(f"/admin/chat/reaction/{reaction.id}/delete/",
                                                               {"post": "yes"})

    assert response.status_code == 302
    event = await alice_socket.receive_type("message.updated")
    assert (event["message"]["id"], event["message"]["reactions"]) == (stored["id"], {})
    assert await Reaction.objects.acount() == 0


async def test_an_admin_delete_of_a_conversation_drops_it_from_members_lists(admin_client, connect, alice, bob,
                                                                             carol, group):
    await database_sync_to_async(message_send)(sender=alice, conversation_id=group.id, client_id="m1",
                                               content="bye")
    sockets = [await connect(user) for user in (alice, bob, carol)]

    response = await database_sync_to_async(admin_client.post)(f"/admin/chat/conversation/{group.id}/delete/",
                                                               {"post": "yes"})

    assert response.status_code == 302
    for socket in sockets:
        event = await socket.receive_type("conversation.updated")
        assert (event["conversation"], event["change"]) == (str(group.id), "deleted")
    assert not await Conversation.objects.filter(id=group.id).aexists()
    assert await Message.objects.filter(conversation_id=group.id).acount() == 0


def test_admin_searches_with_any_text_answer_200(admin_client, group):
    for path in ("conversation", "membership", "message", "reaction"):
        for term in ("abc", str(group.id), "99999999999999999999", "-1"):
            assert admin_client.get(f"/admin/chat/{path}/", {"q": term}).status_code == 200, (path, term)
