"""Counters (favourites, reblogs, replies of a status; followers, following, statuses of an
account) live in Redis and are flushed to the database by beat.

Redis holds the live value (``store.counters_increment`` raises it and records the delta in
one script); the flush swaps the pending deltas out atomically and adds them to the database
columns. ``counters_rebuild`` recounts everything from the database rows after Redis lost its
data.
"""

import secrets
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q

from feed import store
from feed.models import FeedAccount, Follow, Status

User = get_user_model()

STATUS_FIELDS = ("favourites_count", "reblogs_count", "replies_count")
ACCOUNT_FIELDS = ("followers_count", "following_count", "statuses_count")


def counters_increment_on_commit(increments: list[store.Increment]) -> None:
    """Raise the live counters once the transaction commits (a rolled-back write counts nothing)."""
    if increments:
        transaction.on_commit(lambda: store.counters_increment(increments), robust=True)


def counters_flush() -> int:
    """Add the pending deltas to the database columns; returns the rows updated.

    One flusher at a time (a lock in Redis); increments made during the flush land in a new
    pending hash and wait for the next one, so none is lost or counted twice.
    """
    token = secrets.token_hex(8)
    if not store.flush_lock_claim(token):
        return 0
    try:
        deltas = store.counters_swap()
        if not deltas:
            return 0
        grouped: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
        for name, delta in deltas.items():
            kind, object_id, field = name.split(":", 2)
            if delta and field in (STATUS_FIELDS if kind == "s" else ACCOUNT_FIELDS):
                grouped[(kind, int(object_id))][field] = delta
        updated = 0
        with transaction.atomic():
            for (kind, object_id), fields in grouped.items():
                changes = {field: F(field) + delta for field, delta in fields.items()}
                if kind == "s":
                    updated += Status.objects.filter(id=object_id).update(**changes)
                else:
                    FeedAccount.objects.get_or_create(user_id=object_id)
                    updated += FeedAccount.objects.filter(user_id=object_id).update(**changes)
        store.counters_swap_done()
        return updated
    finally:
        store.flush_lock_release(token)


def counters_rebuild() -> tuple[int, int]:
    """Recount every counter from the database rows, write the columns and Redis.

    Returns (statuses, accounts) rebuilt. Pending deltas are dropped: the recount already
    includes every committed change.
    """
    store.counters_clear_all()
    live = Q(deleted_at__isnull=True)
    statuses = Status.objects.filter(live).annotate(
        fav=Count("favourites", distinct=True),
        reb=Count("reblogs", filter=Q(reblogs__deleted_at__isnull=True), distinct=True),
        rep=Count("replies", filter=Q(replies__deleted_at__isnull=True), distinct=True),
    ).values_list("id", "fav", "reb", "rep")
    status_values: dict[int, dict[str, int]] = {}
    for status_id, fav, reb, rep in statuses.iterator(chunk_size=2000):
        Status.objects.filter(id=status_id).update(favourites_count=fav, reblogs_count=reb, replies_count=rep)
        status_values[status_id] = {"favourites_count": fav, "reblogs_count": reb, "replies_count": rep}
        if len(status_values) >= 2000:
            store.counters_set("s", status_values)
            status_values = {}
    store.counters_set("s", status_values)

    followers = dict(Follow.objects.values("followee").annotate(n=Count("id")).values_list("followee", "n"))
    following = dict(Follow.objects.values("follower").annotate(n=Count("id")).values_list("follower", "n"))
    posted = dict(Status.objects.filter(live).values("account").annotate(n=Count("id")).values_list("account", "n"))
    user_ids = list(User.objects.values_list("id", flat=True))
    account_values = {}
    for user_id in user_ids:
        values = {
            "followers_count": followers.get(user_id, 0),
            "following_count": following.get(user_id, 0),
            "statuses_count": posted.get(user_id, 0),
        }
        FeedAccount.objects.update_or_create(user_id=user_id, defaults=values)
        account_values[user_id] = values
    store.counters_set("a", account_values)
    return Status.objects.filter(live).count(), len(user_ids)
