"""Delivered/read pointers per member: raised in Redis, flushed to the database.

Pointers only move forward (a Lua max in Redis, ``< value`` guards in SQL), so
late or replayed receipts never lower them. Readers take the larger of both.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

from chat import errors, events, selectors, store
from chat.models import Membership

User = get_user_model()

STATUSES = ("delivered", "read")
FLUSH_BATCH = 500


def receipt_record(*, user: User, conversation_id: int | str, status: str, up_to_seq) -> dict[str, bool]:
    """Raise the caller's pointer(s) to ``up_to_seq`` (capped at the conversation's last seq).

    ``read`` also raises ``delivered``. Each pointer that moved is announced to the other
    members as a ``receipt`` event. Returns which pointers moved.
    """
    if status not in STATUSES:
        raise errors.invalid("status", "One of: delivered, read.")
    if isinstance(up_to_seq, bool) or not isinstance(up_to_seq, int) or up_to_seq < 0:
        raise errors.invalid("up_to_seq", "A non-negative integer.")
    membership = selectors.membership_get(user=user, conversation_id=conversation_id)
    conversation = membership.conversation
    seq = min(up_to_seq, conversation.last_seq)
    if seq <= 0:
        return {}
    pointers = {"delivered": seq, "read": seq} if status == "read" else {"delivered": seq}
    moved = store.receipt_advance(user.id, conversation.id, pointers)
    others = [m for m in selectors.member_ids(conversation.id) if m != user.id]
    for moved_status in STATUSES:
        if moved.get(moved_status):
            events.publish_on_commit(others, events.receipt(conversation.id, user.username, moved_status, seq))
    return moved


def _flush_user(user_id: int) -> int:
    updated = 0
    for conversation_id, pointer in store.receipt_pointers(user_id).items():
        rows = Membership.objects.filter(conversation_id=conversation_id, user_id=user_id)
        if pointer["read"]:
            updated += rows.filter(read_seq__lt=pointer["read"]).update(read_seq=pointer["read"])
        delivered = max(pointer["delivered"], pointer["read"])
        if delivered:
            updated += rows.filter(Q(delivered_seq__lt=delivered)).update(delivered_seq=delivered)
    return updated


def receipts_flush(*, batch: int = FLUSH_BATCH, now: float | None = None) -> int:
    """Write every dirty pointer to Membership; returns the rows raised. Safe to run concurrently:
    each dirty user is handed to one flusher and the SQL only raises. Users taken by a flusher that
    died before finishing are flushed by a later run (see ``store.dirty_receipt_users_pop``)."""
    total = 0
    while user_ids := store.dirty_receipt_users_pop(batch, now=now):
        for user_id in user_ids:
            total += _flush_user(user_id)
        store.dirty_receipt_users_done(user_ids)
        if len(user_ids) < batch:
            break
    return total


def receipts_flush_user(*, user_id: int) -> int:
    """Flush one user's pointers now (their socket closed)."""
    if not store.dirty_receipt_user_take(user_id):
        return 0
    return _flush_user(user_id)
