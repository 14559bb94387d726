"""What reaches Redis home timelines: the hybrid fan-out.

- Push: a new status goes into the timelines of its author's followers active within
  ``FEED_ACTIVE_DAYS``, walked by keyset in batches of ``FANOUT_BATCH`` with pipelined writes.
- Pull: authors flagged as celebrities (more than ``FEED_CELEBRITY_THRESHOLD`` followers) are
  not pushed; each follower's set of followed celebrities makes reads merge their recent posts.
- A reader not active within ``FEED_ACTIVE_DAYS`` gets no pushes; their timeline is rebuilt
  from the database when they return.

Every function here is idempotent (sorted-set writes), so a retried task does no harm.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from feed import store
from feed.models import FeedAccount, Follow, Status
from feed.services import streaming

FANOUT_BATCH = 1000


def _active_cutoff():
    return timezone.now() - timedelta(days=settings.FEED_ACTIVE_DAYS)


def _follower_batches(author_id: int, *, active_only: bool):
    """Follower ids of the author, by keyset on the follow id, ``FANOUT_BATCH`` at a time."""
    follows = Follow.objects.filter(followee_id=author_id)
    if active_only:
        follows = follows.filter(follower__feed_account__last_read_at__gte=_active_cutoff())
    last = 0
    while True:
        batch = list(follows.filter(id__gt=last).order_by("id").values_list("id", "follower_id")[:FANOUT_BATCH])
        if not batch:
            return
        yield [follower_id for _, follower_id in batch]
        last = batch[-1][0]
        if len(batch) < FANOUT_BATCH:
            return


def is_celebrity(author_id: int) -> bool:
    return FeedAccount.objects.filter(user_id=author_id, is_celebrity=True).exists()


def recent_entries(author_id: int) -> list[store.Entry]:
    """The author's latest posts (newest first) as timeline entries, from the database."""
    rows = (Status.objects.filter(account_id=author_id, deleted_at__isnull=True)
            .order_by("-id").values_list("id", "reblog_of_id")[:store.RECENT_MAX])
    return list(rows)


def recent_ensure(author_ids: list[int]) -> None:
    """Build the recent sets of authors that lack one (new, or lost with Redis's data)."""
    for author_id in store.recent_missing(author_ids):
        store.recent_fill(author_id, [status_id for status_id, _ in recent_entries(author_id)])


def status_fanout(*, status_id: int) -> int:
    """Deliver a committed status; returns the follower timelines written (0 for a celebrity).

    The author's own timeline and recent set always get it; followers only when the author is
    not a celebrity and they were active recently.
    """
    row = Status.objects.filter(id=status_id, deleted_at__isnull=True).values_list(
        "account_id", "reblog_of_id").first()
    if row is None:
        return 0
    author_id, original_id = row
    entries = [(status_id, original_id)]
    store.recent_add(author_id, status_id)
    store.timelines_push([author_id], entries)
    entity = streaming.status_entity(status_id)
    authors = {author_id, int(entity["reblog"]["account"]["id"]) if entity and entity["reblog"] else author_id}
    if entity is not None:
        streaming.announce_update(entity=entity, reader_ids=[author_id], author_ids=set())
        if entity["visibility"] == Status.Visibility.PUBLIC and not original_id:
            streaming.announce_public(entity=entity)
    celebrity = is_celebrity(author_id)
    delivered = 0
    for follower_ids in _follower_batches(author_id, active_only=True):
        if not celebrity:  # a celebrity's followers pull its posts at read time
            store.timelines_push(follower_ids, entries)
            delivered += len(follower_ids)
        if entity is not None:
            streaming.announce_update(entity=entity, reader_ids=follower_ids, author_ids=authors)
    return delivered


def status_remove_everywhere(*, status_ids: list[int], author_id: int) -> None:
    """Take deleted statuses out of the author's recent set and every timeline they reached."""
    store.recent_remove(author_id, status_ids)
    store.timelines_remove([author_id], status_ids)
    streaming.announce_delete(status_ids=status_ids, reader_ids=[author_id])
    for follower_ids in _follower_batches(author_id, active_only=False):
        store.timelines_remove(follower_ids, status_ids)
        streaming.announce_delete(status_ids=status_ids, reader_ids=follower_ids, public=False)


def home_merge_author(*, reader_id: int, author_id: int) -> None:
    """After a follow: the author's recent posts join the reader's timeline (or, for a
    celebrity, the author joins the reader's pulled set)."""
    if not Follow.objects.filter(follower_id=reader_id, followee_id=author_id).exists():
        return  # unfollowed before this ran
    if is_celebrity(author_id):
        store.celebrity_add([reader_id], author_id)
        return
    store.timelines_push([reader_id], list(reversed(recent_entries(author_id))))


def home_unmerge_author(*, reader_id: int, author_id: int) -> None:
    """After an unfollow or block: the author's posts leave the reader's timeline."""
    if Follow.objects.filter(follower_id=reader_id, followee_id=author_id).exists():
        return  # followed again before this ran
    store.celebrity_remove([reader_id], author_id)
    members = store.timeline_members(reader_id)
    theirs = list(Status.objects.filter(id__in=members, account_id=author_id).values_list("id", flat=True))
    store.timelines_remove([reader_id], theirs)


def home_rebuild(*, reader_id: int) -> int:
    """Rebuild a returning reader's timeline from the database; returns the entries written.

    The caller marked the reader active first, so every post committed from then on is pushed
    to them; the timeline is emptied before the query, so such pushes survive and every earlier
    post is in the query: no gap. Writes are set inserts: no duplicate.
    """
    try:
        store.timeline_reset(reader_id)
        followees = list(Follow.objects.filter(follower_id=reader_id).values_list("followee_id", flat=True))
        celebrities = set(FeedAccount.objects.filter(user_id__in=followees, is_celebrity=True)
                          .values_list("user_id", flat=True))
        store.celebrities_replace(reader_id, celebrities)
        pushed = [a for a in followees if a not in celebrities] + [reader_id]
        rows = list(Status.objects.filter(Q(account_id__in=pushed), deleted_at__isnull=True)
                    .order_by("-id").values_list("id", "reblog_of_id")[:settings.FEED_TIMELINE_MAX])
        for start in range(len(rows), 0, -500):  # oldest first, as they were published
            store.timelines_push([reader_id], list(reversed(rows[max(0, start - 500):start])))
        store.timeline_mark_ready(reader_id)
        return len(rows)
    finally:
        store.timeline_rebuild_release(reader_id)


def author_celebrity_sync(*, author_id: int) -> bool | None:
    """Flip the author between push and pull when their follower count crossed the threshold.

    Returns the new flag, or None when nothing changed. Going up, followers learn to pull the
    author before pushes stop; going down, pushes resume and the posts made meanwhile are
    merged into followers' timelines before they stop pulling. Reads merge both sources and
    drop duplicates, so no follower sees a gap or a post twice.
    """
    from feed.selectors import account_counts

    followers = account_counts([author_id])[author_id]["followers_count"]
    wanted = followers > settings.FEED_CELEBRITY_THRESHOLD
    account, _ = FeedAccount.objects.get_or_create(user_id=author_id)
    if account.is_celebrity == wanted:
        return None
    recent_ensure([author_id])
    if wanted:
        for follower_ids in _follower_batches(author_id, active_only=True):
            store.celebrity_add(follower_ids, author_id)
        FeedAccount.objects.filter(user_id=author_id).update(is_celebrity=True)
        return True
    FeedAccount.objects.filter(user_id=author_id).update(is_celebrity=False)
    entries = list(reversed(recent_entries(author_id)))
    for follower_ids in _follower_batches(author_id, active_only=True):
        store.timelines_push(follower_ids, entries)
        store.celebrity_remove(follower_ids, author_id)
    return False


def status_announce_update(*, status_id: int) -> None:
    """Stream ``status.update`` (the status as it is now) to its author and their followers."""
    row = Status.objects.filter(id=status_id, deleted_at__isnull=True).values_list("account_id", flat=True).first()
    entity = streaming.status_entity(status_id) if row is not None else None
    if entity is None:
        return
    streaming.announce_update(entity=entity, reader_ids=[row], author_ids=set(), event="status.update")
    for follower_ids in _follower_batches(row, active_only=True):
        streaming.announce_update(entity=entity, reader_ids=follower_ids, author_ids={row}, event="status.update")
