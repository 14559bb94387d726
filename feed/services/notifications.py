"""Notifications: follow, favourite, reblog, mention; each once per (who, what) and streamed.

A notification is written in the transaction of the action that caused it (a unique
constraint makes a repeat, or a concurrent duplicate, a no-op) and streamed to its recipient's
``user`` stream after commit. Nobody is notified of their own actions, nor by an account they
block, are blocked by, or mute.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from core.ids import parse_id
from core.publish import publish_on_commit
from feed import errors, events
from feed.models import Block, Mute, Notification

User = get_user_model()


def _silenced(recipient_id: int, from_id: int) -> bool:
    return (Mute.objects.filter(account_id=recipient_id, target_id=from_id).exists()
            or Block.objects.filter(account_id=recipient_id, target_id=from_id).exists()
            or Block.objects.filter(account_id=from_id, target_id=recipient_id).exists())


def notify(*, recipient_id: int, from_account_id: int, type: str, status_id: int | None = None) -> None:
    """Notify ``recipient_id`` (call inside the action's transaction)."""
    if recipient_id == from_account_id or _silenced(recipient_id, from_account_id):
        return
    try:
        with transaction.atomic():
            notification, created = Notification.objects.get_or_create(
                account_id=recipient_id, from_account_id=from_account_id, type=type, status_id=status_id)
    except IntegrityError:
        return  # a concurrent duplicate won
    if not created:
        return

    def build() -> dict:
        from feed import presenters

        recipient = User.objects.get(id=recipient_id)
        return events.notification(presenters.render_notifications([notification.id], recipient)[0])

    publish_on_commit([events.user_group(recipient_id)], build, app="feed")


def notify_mentions(*, status, usernames: set[str]) -> None:
    """Notify the mentioned active accounts of a new status (call inside its transaction)."""
    if not usernames:
        return
    for user_id in User.objects.filter(username__in=usernames, is_active=True).values_list("id", flat=True):
        notify(recipient_id=user_id, from_account_id=status.account_id, type=Notification.Type.MENTION,
               status_id=status.id)


def notifications_clear(*, account) -> int:
    """Dismiss every notification of the account; returns how many."""
    return Notification.objects.filter(account=account).delete()[0]


def notification_dismiss(*, account, notification_id) -> None:
    """Dismiss one of the account's notifications; raises NotFound for anyone else's."""
    parsed = parse_id(notification_id)
    if parsed is None or not Notification.objects.filter(id=parsed, account=account).delete()[0]:
        raise errors.record_not_found()
