"""Publishing and deleting statuses."""

import hashlib
from collections import defaultdict
from datetime import UTC

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.ids import parse_id
from core.tasks import enqueue_on_commit
from feed import errors, store
from feed.entity_json import hashtags, mentioned_usernames
from feed.models import MAX_STATUS_CHARS, FeedAccount, MediaAttachment, Status, StatusTag
from feed.selectors import status_cache_refresh
from feed.services.counters import counters_increment_on_commit
from feed.services.media import media_for_status
from feed.services.notifications import notify_mentions
from feed.services.viewers import viewers_forget_on_commit
from feed.store import entity_cache

User = get_user_model()

MAX_IDEMPOTENCY_KEY_LENGTH = 512


def visible_status(*, status_id, viewer: User | None) -> Status:
    """A live status the viewer may see; raises NotFound (also when its author blocks the viewer)."""
    from feed.selectors import blocked_between

    parsed = parse_id(status_id)
    status = Status.objects.filter(id=parsed, deleted_at__isnull=True).first() if parsed else None
    if status is None or (viewer is not None and viewer.is_authenticated
                          and blocked_between(viewer.id, status.account_id)):
        raise errors.record_not_found()
    return status


def _idempotency_hash(key) -> str | None:
    if key in (None, ""):
        return None
    if not isinstance(key, str) or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.invalid("Idempotency-Key", f"At most {MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
    return hashlib.sha256(key.encode()).hexdigest()


def _validate(text, visibility, media_ids) -> tuple[str, str]:
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise errors.validation_failed("status", "Text must be a string")
    if not text.strip() and not media_ids:
        raise errors.validation_failed("status", "Text can't be blank")
    if "\x00" in text:
        raise errors.validation_failed("status", "Text must not contain NUL characters")
    if len(text) > MAX_STATUS_CHARS:
        raise errors.validation_failed("status", f"Text character limit of {MAX_STATUS_CHARS} exceeded")
    visibility = visibility or Status.Visibility.PUBLIC
    if visibility not in Status.Visibility.values:
        raise errors.validation_failed("visibility", "Visibility must be public or unlisted")
    return text, visibility


def status_publish(*, account: User, text, in_reply_to_id=None, visibility=None, media_ids=None,
                   idempotency_key=None) -> tuple[Status, bool]:
    """Store a status and deliver it after commit; returns ``(status, created)``.

    The same ``idempotency_key`` from the same account returns the first status (``created``
    False), also when retries race: a unique constraint decides. Raises ApplicationError 422
    (``validation_failed``) for an empty (without media) or over-long text, an unknown
    visibility, a reply to a status that does not exist or is not visible to the account, and
    ``media_ids`` naming more than four, unknown, someone else's, already attached or unprocessed
    attachments (each attachment goes to one status only, also when two publishes race).
    Mentioned accounts are notified; #hashtags are recorded for tag timelines.
    """
    text, visibility = _validate(text, visibility, media_ids)
    key = _idempotency_hash(idempotency_key)
    parent = None
    if in_reply_to_id not in (None, ""):
        try:
            parent = visible_status(status_id=in_reply_to_id, viewer=account)
        except errors.ApplicationError:
            raise errors.validation_failed("in_reply_to_id", "The status you are replying to does not exist")
        if parent.reblog_of_id:
            raise errors.validation_failed("in_reply_to_id", "A reblog cannot be replied to")
    if key and (existing := Status.objects.filter(account=account, idempotency_key=key).first()):
        return existing, False
    try:
        with transaction.atomic():
            status = Status.objects.create(
                account=account, text=text, visibility=visibility, idempotency_key=key,
                in_reply_to=parent, in_reply_to_account_id=parent.account_id if parent else None,
            )
            _attach_media(status, media_ids)
            tags = hashtags(text)
            if tags:
                StatusTag.objects.bulk_create([StatusTag(status=status, name=t[:100]) for t in tags])
            status_created_effects(status)
            notify_mentions(status=status, usernames=mentioned_usernames(text))
            if parent:
                counters_increment_on_commit([("s", parent.id, "replies_count", 1)])
    except IntegrityError:
        existing = Status.objects.filter(account=account, idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return existing, False
    return status, True


def _attach_media(status: Status, media_ids) -> None:
    attachments = media_for_status(account=status.account, media_ids=media_ids)
    if not attachments:
        return
    # Conditional: of two statuses racing for an attachment only one takes it (the other rolls back).
    taken = MediaAttachment.objects.filter(id__in=[m.id for m in attachments], status__isnull=True).update(
        status=status)
    if taken != len(attachments):
        raise errors.validation_failed("media_ids", "Media attachments are unknown")
    Status.objects.filter(id=status.id).update(has_media=True)
    status.has_media = True


def status_created_effects(status: Status) -> None:
    """Bookkeeping shared by posts and reblogs: activity, the author's count, the fan-out."""
    from feed import tasks

    account, _ = FeedAccount.objects.get_or_create(user_id=status.account_id)
    FeedAccount.objects.filter(user_id=status.account_id).update(last_status_at=status.created_at)
    if _day(account.last_status_at) != _day(status.created_at):
        # The Account entity shows the day of the last status: its cached rendering is stale.
        author_id = status.account_id
        transaction.on_commit(lambda: entity_cache.accounts_invalidate([author_id]), robust=True)
    # The zero increments create the status's live counters, so reads never fall back to the database.
    counters_increment_on_commit([
        ("a", status.account_id, "statuses_count", 1),
        *[("s", status.id, field, 0) for field in ("favourites_count", "reblogs_count", "replies_count")],
    ])
    enqueue_on_commit(tasks.fanout_status, app="feed", status_id=status.id)


def _day(moment):
    return moment.astimezone(UTC).date() if moment else None


def status_delete(*, account: User, status_id) -> Status:
    """Delete the account's own status (and the reblogs of it) from every timeline it reached.

    Raises NotFound for an unknown id and for another account's status. Returns the deleted
    status, for the API's reply with its source text.
    """
    from feed import tasks

    parsed = parse_id(status_id)
    status = Status.objects.filter(id=parsed, deleted_at__isnull=True).first() if parsed else None
    if status is None or status.account_id != account.id:
        raise errors.record_not_found()
    with transaction.atomic():
        now = timezone.now()
        # Conditional, so of two racing deletes only one counts down.
        if not Status.objects.filter(id=status.id, deleted_at__isnull=True).update(deleted_at=now):
            raise errors.record_not_found()
        reblogs = list(Status.objects.filter(reblog_of=status, deleted_at__isnull=True)
                       .values_list("id", "account_id"))
        Status.objects.filter(id__in=[r for r, _ in reblogs]).update(deleted_at=now)
        increments: list[store.Increment] = [("a", account.id, "statuses_count", -1)]
        if status.reblog_of_id:
            increments.append(("s", status.reblog_of_id, "reblogs_count", -1))
        if status.in_reply_to_id:
            increments.append(("s", status.in_reply_to_id, "replies_count", -1))
        increments += [("a", rebloger, "statuses_count", -1) for _, rebloger in reblogs]
        counters_increment_on_commit(increments)
        # Who reblogged what: this reblog, and the reblogs gone with this status.
        viewers_forget_on_commit(([account.id] if status.reblog_of_id else []) + [r for _, r in reblogs])
        gone = [status.id, *(r for r, _ in reblogs)]
        # Tombstones, not deletions: a reader that loaded the row before this commit cannot
        # put the live version back into the cache afterwards (fills never overwrite).
        transaction.on_commit(lambda: status_cache_refresh(gone), robust=True)
        by_author: dict[int, list[int]] = defaultdict(list)
        by_author[account.id].append(status.id)
        for reblog_id, rebloger in reblogs:
            by_author[rebloger].append(reblog_id)
        for author_id, ids in by_author.items():
            enqueue_on_commit(tasks.remove_statuses, app="feed", status_ids=ids, author_id=author_id)
    status.deleted_at = now
    return status


def account_edited(user_id: int) -> None:
    """Staff edited the account (its names, say): its cached Account entity and the addresses its
    statuses carry are rendered anew on their next read."""
    entity_cache.accounts_invalidate([user_id])
    ids = Status.objects.filter(account_id=user_id).order_by().values_list("id", flat=True)
    batch: list[int] = []
    for status_id in ids.iterator(chunk_size=2000):
        batch.append(status_id)
        if len(batch) == 2000:
            entity_cache.status_parts_invalidate(batch)
            batch = []
    entity_cache.status_parts_invalidate(batch)
