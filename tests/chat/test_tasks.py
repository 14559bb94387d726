"""Background work: the notification outbox and the receipt flush."""

import pytest

from chat import store
from chat.models import Membership, Notification, NotificationOutbox
from chat.services.messages import message_send
from chat.services.receipts import receipt_record, receipts_flush
from chat.tasks import deliver_notifications, flush_receipts

BASE = "/api/v1/chat"

sent_items: list = []


class CollectingBackend:
    """A push backend for the pluggability test: keeps what it was given."""

    def send(self, items) -> None:
        sent_items.extend(items)


@pytest.mark.django_db(transaction=True)
def test_members_without_a_socket_are_notified_through_the_outbox(client_for, alice, bob, carol, group):
    # bob has an open socket (counted in Redis); carol has none.
    store.get_redis().set(store.sockets_key(bob.id), 1)
    message_send(sender=alice, conversation_id=group.id, client_id="n1", content="lunch at noon?")

    assert not NotificationOutbox.objects.exists()  # drained by the task enqueued after commit (eager here)
    notes = list(Notification.objects.all())
    assert [(n.user_id, n.preview) for n in notes] == [(carol.id, "alice: lunch at noon?")]

    api = client_for(carol)
    body = api.get(f"{BASE}/notifications").json()
    assert body["unread"] == 1
    assert body["results"][0]["conversation"] == str(group.id) and body["results"][0]["read"] is False
    assert api.post(f"{BASE}/notifications/read").status_code == 204
    assert api.get(f"{BASE}/notifications").json()["unread"] == 0
    assert client_for(bob).get(f"{BASE}/notifications").json() == {"unread": 0, "results": []}


@pytest.mark.django_db
def test_the_push_backend_is_pluggable_and_the_drain_is_idempotent(alice, bob, direct, settings):
    settings.CHAT_PUSH_BACKEND = "tests.chat.test_tasks.CollectingBackend"
    sent_items.clear()
    message_send(sender=alice, conversation_id=direct.id, client_id="p1", content="ping")  # on_commit not run here
    assert NotificationOutbox.objects.count() == 1

    assert deliver_notifications() == 1
    assert deliver_notifications() == 0
    assert [(i.user_id, i.preview) for i in sent_items] == [(bob.id, "alice: ping")]
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_the_flush_writes_pointers_to_the_database_and_never_lowers_them(alice, bob, direct):
    for i in range(5):
        message_send(sender=alice, conversation_id=direct.id, client_id=f"f{i}", content="x")
    receipt_record(user=bob, conversation_id=direct.id, status="read", up_to_seq=4)
    assert flush_receipts() == 2

    membership = Membership.objects.get(conversation=direct, user=bob)
    assert (membership.delivered_seq, membership.read_seq) == (4, 4)

    receipt_record(user=bob, conversation_id=direct.id, status="delivered", up_to_seq=99)  # capped at last seq
    Membership.objects.filter(id=membership.id).update(read_seq=5)  # e.g. flushed by another process
    receipts_flush()
    membership.refresh_from_db()
    assert (membership.delivered_seq, membership.read_seq) == (5, 5)
    assert receipts_flush() == 0  # nothing dirty any more


@pytest.mark.django_db
def test_receipt_validation(alice, bob, direct):
    from core.errors import FieldError, NotFound

    with pytest.raises(FieldError):
        receipt_record(user=bob, conversation_id=direct.id, status="seen", up_to_seq=1)
    with pytest.raises(FieldError):
        receipt_record(user=bob, conversation_id=direct.id, status="read", up_to_seq=-1)
    with pytest.raises(NotFound):
        receipt_record(user=bob, conversation_id=12345, status="read", up_to_seq=1)


@pytest.mark.django_db
def test_pointers_taken_by_a_flusher_that_died_are_flushed_by_a_later_run(alice, bob, direct):
    from chat import store

    for i in range(3):
        message_send(sender=alice, conversation_id=direct.id, client_id=f"d{i}", content="x")
    receipt_record(user=bob, conversation_id=direct.id, status="read", up_to_seq=3)
    taken_at = 1_000_000.0
    assert store.dirty_receipt_users_pop(100, now=taken_at) == [bob.id]  # ...and that worker was killed

    assert receipts_flush(now=taken_at + 1) == 0  # still its to finish
    assert receipts_flush(now=taken_at + store.RECEIPTS_FLUSH_DEADLINE_SECONDS + 1) == 2
    membership = Membership.objects.get(conversation=direct, user=bob)
    assert (membership.delivered_seq, membership.read_seq) == (3, 3)
    # Done: nobody is handed bob again, however late.
    assert store.dirty_receipt_users_pop(100, now=taken_at + 10 * store.RECEIPTS_FLUSH_DEADLINE_SECONDS) == []
