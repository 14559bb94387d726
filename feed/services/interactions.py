"""Favourites and reblogs: idempotent, also under concurrent callers (unique constraints decide)."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from feed import errors
from feed.models import Favourite, Notification, Status
from feed.services.counters import counters_increment_on_commit
from feed.services.notifications import notify
from feed.services.statuses import status_created_effects, status_delete, visible_status
from feed.services.viewers import viewers_forget_on_commit

User = get_user_model()


def _original(*, account: User, status_id) -> Status:
    """The status acted on: a reblog stands for the status it reblogs (as in Mastodon)."""
    status = visible_status(status_id=status_id, viewer=account)
    return status.reblog_of if status.reblog_of_id else status


def status_favourite(*, account: User, status_id) -> Status:
    """Favourite a visible status; a repeat (or a concurrent duplicate) changes nothing.
    Raises NotFound for an unknown or hidden status. Returns the favourited status."""
    status = _original(account=account, status_id=status_id)
    with transaction.atomic():
        _, created = Favourite.objects.get_or_create(account=account, status=status)
        if created:
            counters_increment_on_commit([("s", status.id, "favourites_count", 1)])
            viewers_forget_on_commit([account.id])
            notify(recipient_id=status.account_id, from_account_id=account.id, type=Notification.Type.FAVOURITE,
                   status_id=status.id)
    return status


def status_unfavourite(*, account: User, status_id) -> Status:
    """Remove the account's favourite if there is one; returns the status."""
    status = _original(account=account, status_id=status_id)
    with transaction.atomic():
        deleted, _ = Favourite.objects.filter(account=account, status=status).delete()
        if deleted:
            counters_increment_on_commit([("s", status.id, "favourites_count", -1)])
            viewers_forget_on_commit([account.id])
    return status


def status_reblog(*, account: User, status_id, visibility=None) -> Status:
    """Reblog a visible status once; returns the account's reblog (the existing one on a repeat).

    Raises NotFound for an unknown or hidden status, 422 for a visibility other than
    public or unlisted.
    """
    status = _original(account=account, status_id=status_id)
    visibility = visibility or Status.Visibility.PUBLIC
    if visibility not in Status.Visibility.values:
        raise errors.validation_failed("visibility", "Visibility must be public or unlisted")
    existing = Status.objects.filter(account=account, reblog_of=status, deleted_at__isnull=True).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            reblog = Status.objects.create(account=account, reblog_of=status, visibility=visibility)
            status_created_effects(reblog)
            counters_increment_on_commit([("s", status.id, "reblogs_count", 1)])
            viewers_forget_on_commit([account.id])
            notify(recipient_id=status.account_id, from_account_id=account.id, type=Notification.Type.REBLOG,
                   status_id=status.id)
    except IntegrityError:
        existing = Status.objects.filter(account=account, reblog_of=status, deleted_at__isnull=True).first()
        if existing is None:
            raise
        return existing
    return reblog


def status_unreblog(*, account: User, status_id) -> Status:
    """Undo the account's reblog if there is one (it leaves every timeline); returns the original."""
    status = _original(account=account, status_id=status_id)
    reblog = Status.objects.filter(account=account, reblog_of=status, deleted_at__isnull=True).first()
    if reblog is not None:
        try:
            status_delete(account=account, status_id=reblog.id)
        except errors.ApplicationError:
            pass  # a concurrent unreblog deleted it first
    return status
