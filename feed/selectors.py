"""Reads of the news feed: timelines, account statuses, threads, relationships, lists.

Statuses load through ``status_records``: the Redis status cache first, then one
``id IN (…)`` query for the misses. Pages are collected from an ordered id source and
filtered (deleted, hidden accounts, a reblog of a status already on the page) until full.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from feed import store
from feed.models import Block, FeedAccount, Follow, Mute, Status
from feed.store import entity_cache

User = get_user_model()

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
ACCOUNTS_DEFAULT_LIMIT = 40
ACCOUNTS_MAX_LIMIT = 80
# A page that filtering keeps thin stops after this many batches (the Link header moves on).
MAX_BATCHES = 10
CONTEXT_MAX_DEPTH = 40
CONTEXT_MAX_DESCENDANTS = 4096
STATUS_COUNTER_FIELDS = ("favourites_count", "reblogs_count", "replies_count")
ACCOUNT_COUNTER_FIELDS = ("followers_count", "following_count", "statuses_count")


@dataclass(frozen=True)
class PageParams:
    """Mastodon paging: ``max_id`` (older than), ``since_id`` (newer than, newest first),
    ``min_id`` (newer than, the ones right after it)."""

    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = DEFAULT_LIMIT


@dataclass
class Page:
    ids: list[int]
    partial: bool = False  # computed from the database while the timeline is rebuilt
    # The status records the page was filtered with (the page's and those they reblog), so the
    # presenter does not read them again.
    records: dict[int, dict] = field(default_factory=dict)


# --- relationships between two accounts -------------------------------------------
def blocked_between(a: int, b: int) -> bool:
    return Block.objects.filter(Q(account_id=a, target_id=b) | Q(account_id=b, target_id=a)).exists()


def hidden_account_ids(reader_id: int) -> set[int]:
    """Accounts whose posts and reblogs the reader does not see: blocked either way, or muted (one query)."""
    rows = Block.objects.filter(account_id=reader_id).values_list("target_id").union(
        Block.objects.filter(target_id=reader_id).values_list("account_id"),
        Mute.objects.filter(account_id=reader_id).values_list("target_id"),
    )
    return {row[0] for row in rows}


# --- statuses ---------------------------------------------------------------------
def _record(row: dict) -> dict:
    return {
        "id": row["id"], "account_id": row["account_id"], "text": row["text"],
        "in_reply_to_id": row["in_reply_to_id"], "in_reply_to_account_id": row["in_reply_to_account_id"],
        "reblog_of_id": row["reblog_of_id"], "visibility": row["visibility"],
        "created_at": row["created_at"].isoformat(), "deleted": row["deleted_at"] is not None,
        "has_media": row["has_media"],
    }


_RECORD_FIELDS = ("id", "account_id", "text", "in_reply_to_id", "in_reply_to_account_id", "reblog_of_id",
                  "visibility", "created_at", "deleted_at", "has_media")


def _load_records(ids: Sequence[int]) -> dict[int, dict]:
    cached = entity_cache.statuses_cached(ids)
    records = {i: r for i, r in cached.items() if r is not None}
    missing = [i for i in ids if i not in cached]
    if missing:
        loaded = [_record(row) for row in Status.objects.filter(id__in=missing).values(*_RECORD_FIELDS)]
        entity_cache.statuses_cache(loaded)
        records.update({r["id"]: r for r in loaded})
        # Gone from the database (an account's statuses go with it): remembered, so a timeline
        # still naming one does not ask again.
        entity_cache.statuses_cache_gone([i for i in missing if i not in records])
    return records


def status_cache_refresh(ids: Sequence[int]) -> None:
    """Overwrite the cached records of the statuses with their current rows (after a delete)."""
    entity_cache.statuses_cache(
        [_record(row) for row in Status.objects.filter(id__in=ids).values(*_RECORD_FIELDS)], overwrite=True)


def status_records(ids: Iterable[int]) -> dict[int, dict]:
    """Stored fields of the statuses and of the statuses they reblog (cache, then one query per
    level for the misses)."""
    ids = list(dict.fromkeys(ids))
    records = _load_records(ids)
    originals = [r["reblog_of_id"] for r in records.values() if r["reblog_of_id"] and r["reblog_of_id"] not in records]
    if originals:
        records.update(_load_records(list(dict.fromkeys(originals))))
    return records


def _visible_filter(records: dict[int, dict], hidden: set[int]) -> Callable[[list[int]], list[int]]:
    """A filter over id batches that keeps live statuses of visible accounts, each shown once."""
    seen: set[int] = set()

    def keep(ids: list[int]) -> list[int]:
        records.update(status_records(i for i in ids if i not in records))
        out = []
        for status_id in ids:
            record = records.get(status_id)
            if record is None or record["deleted"] or record["account_id"] in hidden:
                continue
            original_id = record["reblog_of_id"]
            if original_id:
                original = records.get(original_id)
                if original is None or original["deleted"] or original["account_id"] in hidden:
                    continue
            key = original_id or status_id
            if key in seen:
                continue
            seen.add(key)
            out.append(status_id)
        return out

    return keep


Fetch = Callable[[int | None, int | None, int, bool], list[int]]


def _collect(fetch: Fetch, keep: Callable[[list[int]], list[int]], params: PageParams) -> list[int]:
    """Up to ``limit`` kept ids, newest first, within the paging bounds.

    ``fetch(lower, upper, count, ascending)`` returns at most ``count`` ids strictly between
    the bounds in the given direction; batches are fetched until the page is full, the source
    runs dry or ``MAX_BATCHES`` were read.
    """
    ascending = params.min_id is not None
    lower = params.min_id if ascending else params.since_id
    upper = params.max_id
    count = params.limit * 2 + 5
    out: list[int] = []
    for _ in range(MAX_BATCHES):
        if len(out) >= params.limit:
            break
        ids = fetch(lower, upper, count, ascending)
        out += keep(ids)
        if len(ids) < count:
            break
        if ascending:
            lower = ids[-1]
        else:
            upper = ids[-1]
    out = out[:params.limit]
    return list(reversed(out)) if ascending else out


def _bounded(queryset, lower: int | None, upper: int | None, count: int, ascending: bool, field: str = "id"):
    if lower is not None:
        queryset = queryset.filter(**{f"{field}__gt": lower})
    if upper is not None:
        queryset = queryset.filter(**{f"{field}__lt": upper})
    return list(queryset.order_by(field if ascending else f"-{field}").values_list(field, flat=True)[:count])


# --- home timeline ------------------------------------------------------------------
def _redis_home_fetch(reader_id: int, celebrities: list[int]) -> Fetch:
    from feed.services.fanout import recent_ensure

    recent_ensure(celebrities)

    def fetch(lower, upper, count, ascending):
        ranges = store.timeline_ranges(reader_id, celebrities, lower=lower, upper=upper, count=count,
                                       ascending=ascending)
        merged = sorted({i for ids in ranges for i in ids}, reverse=not ascending)
        return merged[:count]

    return fetch


def _database_home_fetch(reader_id: int) -> Fetch:
    followees = Follow.objects.filter(follower_id=reader_id).values("followee_id")
    statuses = Status.objects.filter(Q(account_id__in=followees) | Q(account_id=reader_id), deleted_at__isnull=True)

    def fetch(lower, upper, count, ascending):
        return _bounded(statuses, lower, upper, count, ascending)

    return fetch


def _mark_active(reader_id: int) -> None:
    FeedAccount.objects.update_or_create(user_id=reader_id, defaults={"last_read_at": timezone.now()})


def home_timeline_page(*, reader: User, params: PageParams) -> Page:
    """The reader's home timeline page, newest first.

    A complete Redis timeline answers, merged in one pass with the recent posts of followed
    celebrities. A reader not active within FEED_ACTIVE_DAYS (or whose timeline Redis lost)
    gets the page computed from the database (``partial``) while a rebuild is enqueued.
    """
    from feed import tasks
    from feed.services.viewers import viewer_state_rebuild

    hidden = hidden_account_ids(reader.id)
    records: dict[int, dict] = {}
    keep = _visible_filter(records, hidden)
    state = store.home_read_state(reader.id)
    if state.ready:
        if state.touch_due:
            _mark_active(reader.id)
            store.timeline_mark_ready(reader.id)
        if not state.viewer_built:  # for the hot path's next reads
            viewer_state_rebuild(reader_id=reader.id)
        return Page(_collect(_redis_home_fetch(reader.id, state.celebrities), keep, params), records=records)
    if state.touch_due:
        # The touch belongs to a read of a ready timeline (it refreshes the timeline's TTL): the
        # first read after the rebuild must make it.
        store.activity_touch_forget(reader.id)
    # Active first, so every post committed from here on is pushed to this reader.
    _mark_active(reader.id)
    if store.timeline_rebuild_claim(reader.id):
        reader_id = reader.id
        transaction.on_commit(lambda: tasks.rebuild_home.delay(reader_id=reader_id), robust=True)
    return Page(_collect(_database_home_fetch(reader.id), keep, params), partial=True, records=records)


# --- account statuses ----------------------------------------------------------------
def account_statuses_page(*, account: User, viewer: User | None, params: PageParams, exclude_replies: bool = False,
                          exclude_reblogs: bool = False, only_media: bool = False, pinned: bool = False) -> Page:
    """The account's statuses, newest first. Nothing is pinned here, so ``pinned`` selects
    nothing; ``only_media`` keeps statuses with attachments; an account that blocks the viewer
    shows nothing."""
    viewer_id = viewer.id if viewer is not None and viewer.is_authenticated else None
    if pinned or (viewer_id and blocked_between(viewer_id, account.id)):
        return Page([])
    statuses = Status.objects.filter(account=account, deleted_at__isnull=True)
    if only_media:
        statuses = statuses.filter(has_media=True)
    if exclude_replies:
        # As Mastodon: replies to others go, the account's own threads stay.
        statuses = statuses.exclude(Q(in_reply_to__isnull=False) & ~Q(in_reply_to_account_id=F("account_id")))
    if exclude_reblogs:
        statuses = statuses.filter(reblog_of__isnull=True)
    hidden = hidden_account_ids(viewer_id) if viewer_id else set()
    # An account's own page shows each of its reblogs, even two reblogs of one thread.
    records: dict[int, dict] = {}
    keep = _visible_filter(records, hidden)

    def fetch(lower, upper, count, ascending):
        return _bounded(statuses, lower, upper, count, ascending)

    return Page(_collect(fetch, keep, params), records=records)


# --- threads ------------------------------------------------------------------------------
def status_context(*, status: Status, viewer: User | None) -> tuple[list[int], list[int]]:
    """Ancestors (oldest first) and descendants (depth first, in reply order) a viewer may see."""
    viewer_id = viewer.id if viewer is not None and viewer.is_authenticated else None
    hidden = hidden_account_ids(viewer_id) if viewer_id else set()
    ancestors: list[int] = []
    parent_id = status.in_reply_to_id
    while parent_id and len(ancestors) < CONTEXT_MAX_DEPTH:
        record = status_records([parent_id]).get(parent_id)
        if record is None:
            break
        if not record["deleted"] and record["account_id"] not in hidden:
            ancestors.append(parent_id)
        parent_id = record["in_reply_to_id"]
    ancestors.reverse()

    children: dict[int, list[int]] = {}
    frontier = [status.id]
    total = 0
    for _ in range(CONTEXT_MAX_DEPTH):
        rows = list(Status.objects.filter(in_reply_to_id__in=frontier, deleted_at__isnull=True)
                    .exclude(account_id__in=hidden).order_by("id").values_list("id", "in_reply_to_id"))
        if not rows:
            break
        for child_id, parent in rows:
            children.setdefault(parent, []).append(child_id)
        total += len(rows)
        frontier = [child_id for child_id, _ in rows]
        if total >= CONTEXT_MAX_DESCENDANTS:
            break
    descendants: list[int] = []
    stack = list(reversed(children.get(status.id, [])))
    while stack:
        current = stack.pop()
        descendants.append(current)
        stack.extend(reversed(children.get(current, [])))
    return ancestors, descendants


# --- accounts -----------------------------------------------------------------------------
def _live_or_flushed(kind: str, object_ids: Sequence[int], fields: Sequence[str], flushed,
                     live: dict[int, dict] | None = None) -> dict[int, dict]:
    """Live counters from Redis (``live`` when the caller read them already); objects without
    any fall back to the last flushed database values (``flushed(missing ids)`` → {id: row})."""
    if live is None:
        live = store.counters_get(kind, list(object_ids))
    missing = [i for i in object_ids if i not in live]
    rows = flushed(missing) if missing else {}
    if rows:  # from now on live in Redis (unless an increment created them meanwhile)
        store.counters_fill_missing(kind, {i: {field: getattr(row, field) for field in fields}
                                           for i in missing if (row := rows.get(i)) is not None})
    out = {}
    for object_id in object_ids:
        if object_id in live:
            out[object_id] = {field: live[object_id].get(field, 0) for field in fields}
        else:
            row = rows.get(object_id)
            out[object_id] = {field: getattr(row, field, 0) for field in fields}
    return out


def account_counts(account_ids: Sequence[int], stored: dict[int, FeedAccount | None] | None = None,
                   live: dict[int, dict] | None = None) -> dict[int, dict[str, int]]:
    """Live followers/following/statuses counts; ``stored`` saves the query when the caller
    already loaded the accounts' FeedAccount rows, ``live`` the Redis read."""
    def flushed(missing):
        if stored is not None:
            return stored
        return {fa.user_id: fa for fa in FeedAccount.objects.filter(user_id__in=missing)}

    return _live_or_flushed("a", account_ids, ACCOUNT_COUNTER_FIELDS, flushed, live)


def live_counters(*, status_ids: Sequence[int], account_ids: Sequence[int]) -> dict[str, dict[int, dict]]:
    """The Redis counters of statuses ("s") and accounts ("a") in one round trip, for
    ``status_counts`` and ``account_counts``."""
    return store.counters_get_kinds({"s": status_ids, "a": account_ids})


def status_counts(status_ids: Sequence[int], live: dict[int, dict] | None = None) -> dict[int, dict[str, int]]:
    """Live favourites/reblogs/replies counts (``live``: the Redis read, when already made)."""
    def flushed(missing):
        return {s.id: s for s in Status.objects.filter(id__in=missing).only("id", *STATUS_COUNTER_FIELDS)}

    return _live_or_flushed("s", status_ids, STATUS_COUNTER_FIELDS, flushed, live)


def accounts_by_ids(account_ids: Iterable[int]) -> dict[int, User]:
    """Users with their feed state, one query."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return {}
    return {u.id: u for u in User.objects.filter(id__in=ids).select_related("feed_account")}


def accounts_and_mentioned(account_ids: Iterable[int], usernames: Iterable[str]) -> dict[int, User]:
    """Users with these ids or usernames, with their feed state: one query for a page's authors
    and the accounts its statuses mention."""
    ids, names = list(dict.fromkeys(account_ids)), sorted(set(usernames))
    if not ids and not names:
        return {}
    return {u.id: u for u in User.objects.filter(Q(id__in=ids) | Q(username__in=names))
            .select_related("feed_account")}


def account_by_acct(acct: str) -> User | None:
    if "\x00" in acct:
        return None
    username = acct.removeprefix("@")
    if "@" in username:
        username, _, domain = username.partition("@")
        if domain.lower() not in {h.lower() for h in _local_domains()}:
            return None
    return User.objects.filter(username=username, is_active=True).first() if username else None


def _local_domains() -> set[str]:
    from urllib.parse import urlsplit

    return {urlsplit(settings.PUBLIC_BASE_URL).netloc, urlsplit(settings.PUBLIC_BASE_URL).hostname or ""}


def _accounts_page(rows, params: PageParams, key: str, value: str) -> tuple[list[int], list[int]]:
    """(row ids, account ids) of a keyset page over follows, favourites or reblogs."""
    ascending = params.min_id is not None
    lower = params.min_id if ascending else params.since_id
    queryset = rows
    if lower is not None:
        queryset = queryset.filter(**{f"{key}__gt": lower})
    if params.max_id is not None:
        queryset = queryset.filter(**{f"{key}__lt": params.max_id})
    page = list(queryset.order_by(key if ascending else f"-{key}").values_list(key, value)[:params.limit])
    if ascending:
        page.reverse()
    return [k for k, _ in page], [v for _, v in page]


def followers_page(*, account: User, params: PageParams) -> tuple[list[int], list[int]]:
    return _accounts_page(Follow.objects.filter(followee=account), params, "id", "follower_id")


def following_page(*, account: User, params: PageParams) -> tuple[list[int], list[int]]:
    return _accounts_page(Follow.objects.filter(follower=account), params, "id", "followee_id")


def favourited_by_page(*, status: Status, params: PageParams) -> tuple[list[int], list[int]]:
    from feed.models import Favourite

    return _accounts_page(Favourite.objects.filter(status=status), params, "id", "account_id")


def reblogged_by_page(*, status: Status, params: PageParams) -> tuple[list[int], list[int]]:
    return _accounts_page(Status.objects.filter(reblog_of=status, deleted_at__isnull=True), params, "id",
                          "account_id")


def viewer_flags(viewer_id: int, status_ids: Sequence[int]) -> tuple[set[int], set[int]]:
    """(favourited, reblogged) among the statuses: one query, never one per status."""
    from django.db.models import IntegerField, Value

    from feed.models import Favourite

    if not status_ids:
        return set(), set()
    favourite, reblog = 0, 1
    rows = Favourite.objects.filter(account_id=viewer_id, status_id__in=status_ids).values_list(
        "status_id", Value(favourite, output_field=IntegerField())).union(
        Status.objects.filter(account_id=viewer_id, reblog_of_id__in=status_ids, deleted_at__isnull=True)
        .values_list("reblog_of_id", Value(reblog, output_field=IntegerField())), all=True)
    favourited: set[int] = set()
    reblogged: set[int] = set()
    for status_id, kind in rows:
        (favourited if kind == favourite else reblogged).add(status_id)
    return favourited, reblogged


def relationships(*, viewer: User, account_ids: Sequence[int]) -> list[dict]:
    """Mastodon Relationship data of the viewer towards each account (a fixed number of queries)."""
    ids = list(account_ids)
    following = set(Follow.objects.filter(follower=viewer, followee_id__in=ids).values_list("followee_id", flat=True))
    followed_by = set(Follow.objects.filter(followee=viewer, follower_id__in=ids).values_list("follower_id", flat=True))
    blocking = set(Block.objects.filter(account=viewer, target_id__in=ids).values_list("target_id", flat=True))
    blocked_by = set(Block.objects.filter(target=viewer, account_id__in=ids).values_list("account_id", flat=True))
    muting = set(Mute.objects.filter(account=viewer, target_id__in=ids).values_list("target_id", flat=True))
    return [
        {"id": a, "following": a in following, "followed_by": a in followed_by, "blocking": a in blocking,
         "blocked_by": a in blocked_by, "muting": a in muting}
        for a in ids
    ]


def instance_stats() -> dict[str, int]:
    return {
        "user_count": User.objects.filter(is_active=True).count(),
        "status_count": Status.objects.filter(deleted_at__isnull=True, reblog_of__isnull=True).count(),
        "domain_count": 0,
        "active_month": FeedAccount.objects.filter(last_read_at__gte=timezone.now() - timedelta(days=30)).count(),
    }


# --- notifications, tags, search -------------------------------------------------------------
NOTIFICATION_TYPES = ("follow", "favourite", "reblog", "mention")


def notifications_page(*, account: User, params: PageParams, types: Sequence[str] = (),
                       exclude_types: Sequence[str] = ()) -> list[int]:
    """Notification ids of the account, newest first, keyset-paged like timelines; those about a
    deleted status or from a hidden account are left out."""
    from feed.models import Notification

    rows = Notification.objects.filter(account=account).filter(
        Q(status__isnull=True) | Q(status__deleted_at__isnull=True))
    if types:
        rows = rows.filter(type__in=types)
    if exclude_types:
        rows = rows.exclude(type__in=exclude_types)
    hidden = hidden_account_ids(account.id)
    if hidden:
        rows = rows.exclude(from_account_id__in=hidden)
    ids, _ = _accounts_page(rows, params, "id", "id")
    return ids


def tag_timeline_page(*, tag: str, viewer: User | None, params: PageParams) -> Page:
    """Public statuses carrying ``#tag`` (case-insensitive), newest first."""
    from feed.models import StatusTag

    viewer_id = viewer.id if viewer is not None and viewer.is_authenticated else None
    rows = StatusTag.objects.filter(name=tag.lower(), status__deleted_at__isnull=True,
                                    status__visibility=Status.Visibility.PUBLIC)
    records: dict[int, dict] = {}
    keep = _visible_filter(records, hidden_account_ids(viewer_id) if viewer_id else set())

    def fetch(lower, upper, count, ascending):
        return _bounded(rows, lower, upper, count, ascending, field="status_id")

    return Page(_collect(fetch, keep, params), records=records)


def search_accounts(*, query: str, limit: int, offset: int = 0) -> list[int]:
    """Active accounts whose username (or name) starts with the query, exact match first."""
    query = query.lstrip("@").split("@")[0]
    if not query:
        return []
    users = (User.objects.filter(is_active=True)
             .filter(Q(username__istartswith=query) | Q(first_name__istartswith=query))
             .order_by("username"))
    ids = list(users.values_list("id", flat=True)[offset:offset + limit])
    exact = User.objects.filter(is_active=True, username__iexact=query).values_list("id", flat=True).first()
    if exact and offset == 0:
        ids = [exact, *[i for i in ids if i != exact]][:limit]
    return ids


def search_hashtags(*, query: str, limit: int, offset: int = 0) -> list[str]:
    from feed.models import StatusTag

    query = query.lstrip("#").lower()
    if not query:
        return []
    names = (StatusTag.objects.filter(name__startswith=query).values_list("name", flat=True)
             .distinct().order_by("name"))
    return list(names[offset:offset + limit])


def search_statuses(*, query: str, viewer: User | None, limit: int, offset: int = 0) -> list[int]:
    """Full-text search of public statuses, newest first: PostgreSQL's GIN index (websearch
    syntax); elsewhere every word must appear in the text."""
    if not query.strip():
        return []
    rows = Status.objects.filter(deleted_at__isnull=True, reblog_of__isnull=True,
                                 visibility=Status.Visibility.PUBLIC)
    if settings.IS_POSTGRES:
        from django.contrib.postgres.search import SearchQuery, SearchVector

        rows = rows.annotate(search=SearchVector("text", config="simple")).filter(
            search=SearchQuery(query, config="simple", search_type="websearch"))
    else:
        for word in query.split()[:10]:
            rows = rows.filter(text__icontains=word)
    viewer_id = viewer.id if viewer is not None and viewer.is_authenticated else None
    hidden = hidden_account_ids(viewer_id) if viewer_id else set()
    if hidden:
        rows = rows.exclude(account_id__in=hidden)
    return list(rows.order_by("-id").values_list("id", flat=True)[offset:offset + limit])
