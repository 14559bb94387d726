"""Writes of the chat: ordering, idempotency and the races the database must settle."""

import pytest

from chat.models import Attachment, Conversation, Membership, Message
from chat.services.conversations import conversation_create, members_add, members_remove
from chat.services.messages import message_send
from core.errors import ApplicationError, FieldError, NotFound
from tests.fixtures.concurrency import run_concurrently


def _run_concurrently(count: int, func):
    return run_concurrently(func, count)


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_gapless_unique_seqs(make_user, settings):
    settings.CHAT_SEND_RATE_LIMIT = (1000, 1)
    users = [make_user() for _ in range(6)]
    conversation, _ = conversation_create(creator=users[0], usernames=[u.username for u in users[1:]], title="race")

    def send(index: int):
        return [
            message_send(sender=users[index], conversation_id=conversation.id, client_id=f"{index}-{n}", content="x")
            for n in range(5)
        ]

    results = _run_concurrently(6, send)
    seqs = sorted(payload["seq"] for batch in results for payload, _ in batch)
    assert seqs == list(range(1, 31))
    assert list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True)) == seqs
    assert Conversation.objects.get(id=conversation.id).last_seq == 30


@pytest.mark.django_db(transaction=True)
def test_racing_retries_of_one_client_id_store_one_message(alice, bob):
    conversation, _ = conversation_create(creator=alice, usernames=["bob"])
    results = _run_concurrently(
        5, lambda i: message_send(sender=alice, conversation_id=conversation.id, client_id="same", content="hi")
    )
    assert len({payload["id"] for payload, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_creations_of_a_direct_conversation_make_one(alice, bob):
    results = _run_concurrently(4, lambda i: conversation_create(creator=alice if i % 2 else bob,
                                                                 usernames=["bob" if i % 2 else "alice"]))
    assert len({conversation.id for conversation, _ in results}) == 1
    assert Conversation.objects.filter(kind="direct").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("through_staff", [(), (1, 3)], ids=["members", "staff-and-members"])
def test_racing_member_additions_never_pass_the_cap(make_user, monkeypatch, through_staff):
    from chat.services.conversations import members_add_by_staff

    monkeypatch.setattr("chat.services.conversations.MAX_MEMBERS", 4)
    admin = make_user("admin")
    conversation, _ = conversation_create(creator=admin, usernames=[make_user("m1").username], title="capped")
    candidates = [make_user(f"c{i}") for i in range(4)]

    def add(index: int):
        try:
            if index in through_staff:  # the admin site's path
                members_add_by_staff(conversation_id=conversation.id, users=[candidates[index]])
            else:
                members_add(actor=admin, conversation_id=conversation.id, usernames=[candidates[index].username])
            return True
        except FieldError:
            return False

    results = _run_concurrently(4, add)
    assert sum(results) == 2
    assert Membership.objects.filter(conversation=conversation).count() == 4


@pytest.mark.django_db(transaction=True)
def test_an_attachment_is_attached_once_under_a_race(alice, bob, carol):
    conversation, _ = conversation_create(creator=alice, usernames=["bob", "carol"], title="t")
    attachment = Attachment.objects.create(owner=alice, name="a.txt", size=1, content_type="text/plain",
                                           file="chat/attachments/x/a.txt")

    def send(index: int):
        try:
            return message_send(sender=alice, conversation_id=conversation.id, client_id=f"att{index}",
                                content="", attachment_ids=[str(attachment.id)])[0]
        except FieldError:
            return None

    results = [r for r in _run_concurrently(3, send) if r]
    assert len(results) == 1
    assert Message.objects.filter(conversation=conversation).count() == 1  # the losers rolled back, seq too
    assert Conversation.objects.get(id=conversation.id).last_seq == 1


@pytest.mark.django_db
def test_direct_conversation_is_created_once(alice, bob):
    first, created = conversation_create(creator=alice, usernames=["bob"])
    again, created_again = conversation_create(creator=bob, usernames=["alice"])
    assert (created, created_again) == (True, False)
    assert first.id == again.id and first.kind == "direct"


@pytest.mark.django_db
def test_a_group_has_at_most_500_members(make_user, alice):
    from django.contrib.auth import get_user_model

    get_user_model().objects.bulk_create([get_user_model()(username=f"bulk{i}") for i in range(500)])
    with pytest.raises(FieldError) as info:
        conversation_create(creator=alice, usernames=[f"bulk{i}" for i in range(500)], title="too big")
    assert info.value.code == "too_many_members"
    conversation, _ = conversation_create(creator=alice, usernames=[f"bulk{i}" for i in range(499)], title="full")
    assert conversation.memberships.count() == 500


@pytest.mark.django_db
def test_only_admins_change_members_but_anyone_may_leave(alice, bob, carol):
    conversation, _ = conversation_create(creator=alice, usernames=["bob"], title="g")
    with pytest.raises(ApplicationError) as info:
        members_add(actor=bob, conversation_id=conversation.id, usernames=["carol"])
    assert (info.value.code, info.value.status) == ("not_admin", 403)
    members_add(actor=alice, conversation_id=conversation.id, usernames=["carol"])
    with pytest.raises(ApplicationError):
        members_remove(actor=bob, conversation_id=conversation.id, usernames=["carol"])
    members_remove(actor=bob, conversation_id=conversation.id, usernames=["bob"])
    assert set(conversation.memberships.values_list("user__username", flat=True)) == {"alice", "carol"}
    with pytest.raises(NotFound):
        members_add(actor=bob, conversation_id=conversation.id, usernames=["bob"])


@pytest.mark.django_db
def test_a_message_is_at_most_4000_characters(alice, bob, direct):
    message_send(sender=alice, conversation_id=direct.id, client_id="ok", content="x" * 4000)
    with pytest.raises(FieldError) as info:
        message_send(sender=alice, conversation_id=direct.id, client_id="long", content="x" * 4001)
    assert info.value.code == "too_long" and "content" in info.value.extra["fields"]


@pytest.mark.django_db
def test_your_own_messages_never_count_as_unread(alice, bob, direct):
    message_send(sender=alice, conversation_id=direct.id, client_id="a", content="hi")
    mine = Membership.objects.get(conversation=direct, user=alice)
    theirs = Membership.objects.get(conversation=direct, user=bob)
    assert (mine.read_seq, theirs.read_seq) == (1, 0)


@pytest.mark.django_db
def test_attachments_of_someone_else_cannot_be_sent(alice, bob, direct):
    attachment = Attachment.objects.create(owner=bob, name="b.txt", size=1, content_type="text/plain",
                                           file="chat/attachments/x/b.txt")
    with pytest.raises(FieldError) as info:
        message_send(sender=alice, conversation_id=direct.id, client_id="steal", attachment_ids=[attachment.id])
    assert info.value.code == "bad_attachments"
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_racing_receipts_keep_the_highest_pointer(alice, bob, settings):
    from chat import store
    from chat.services.receipts import receipt_record, receipts_flush

    settings.CHAT_SEND_RATE_LIMIT = (1000, 1)
    conversation, _ = conversation_create(creator=alice, usernames=["bob"])
    for i in range(8):
        message_send(sender=alice, conversation_id=conversation.id, client_id=f"r{i}", content="x")
    _run_concurrently(8, lambda i: receipt_record(user=bob, conversation_id=conversation.id, status="read",
                                                  up_to_seq=i + 1))
    assert store.receipt_pointers(bob.id)[conversation.id] == {"delivered": 8, "read": 8}
    _run_concurrently(3, lambda i: receipts_flush())
    assert Membership.objects.get(conversation=conversation, user=bob).read_seq == 8


@pytest.mark.django_db(transaction=True)
def test_racing_reactions_and_blocks_are_stored_once(alice, bob):
    from chat.models import Block, Reaction
    from chat.services.blocks import block_create
    from chat.services.messages import reaction_add

    conversation, _ = conversation_create(creator=alice, usernames=["bob"])
    payload, _ = message_send(sender=alice, conversation_id=conversation.id, client_id="m", content="x")
    _run_concurrently(4, lambda i: reaction_add(user=bob, message_id=payload["id"], emoji="👍"))
    _run_concurrently(4, lambda i: block_create(blocker=alice, username="bob"))
    assert Reaction.objects.count() == 1
    assert Block.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_outbox_drains_push_each_message_once(alice, bob, carol, settings, monkeypatch):
    from chat.models import NotificationOutbox
    from chat.services.notifications import outbox_drain
    from tests.chat import test_tasks

    # The drain normally runs right after each send (eager Celery); here the racing drains do it.
    monkeypatch.setattr("chat.tasks.deliver_notifications.delay", lambda: None)
    settings.CHAT_PUSH_BACKEND = "tests.chat.test_tasks.CollectingBackend"
    test_tasks.sent_items.clear()
    conversation, _ = conversation_create(creator=alice, usernames=["bob", "carol"], title="g")
    for i in range(10):
        message_send(sender=alice, conversation_id=conversation.id, client_id=f"o{i}", content="x")
    assert NotificationOutbox.objects.count() == 20

    _run_concurrently(3, lambda i: outbox_drain(batch=4))
    pushed = [(item.user_id, item.message_id) for item in test_tasks.sent_items]
    assert len(pushed) == len(set(pushed)) == 20
    assert NotificationOutbox.objects.count() == 0
