"""Reads: the redirect lookup (cache + lease), owner-scoped link lists, stats."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from core.errors import FieldError, NotFound
from shortener import store
from shortener.models import Click, Dimension, Link, LinkHourlyDimension, LinkHourlyStats, LinkState


def _entry_from_db(code: str) -> store.CachedLink | None:
    link = (
        Link.objects.filter(short_code=code)
        .only("long_url", "redirect_type", "expires_at", "state", "password_hash", "max_clicks")
        .first()
    )
    if link is None:
        return None
    return store.CachedLink(
        long_url=link.long_url,
        redirect_type=link.redirect_type,
        expires_at=link.expires_at.timestamp() if link.expires_at else None,
        state=link.state,
        has_password=bool(link.password_hash),
        max_clicks=link.max_clicks,
    )


def link_from_database(code: str) -> store.CachedLink | None:
    """The redirect data of ``code`` read from the database alone (when Redis is unreachable)."""
    return _entry_from_db(code)


def link_for_redirect(code: str) -> store.CachedLink | None:
    """The redirect data of ``code`` (None when unknown), from Redis whenever possible.

    On a miss only the holder of the per-code lease reads the database and fills the cache
    (or the negative cache); concurrent callers wait briefly for that fill and re-read, and only
    read the database themselves if the holder is too slow.
    """
    cached = store.cache_get(code)
    if cached is store.MISSING:
        return None
    if cached is not None:
        return cached
    token = store.lease_acquire(code)
    if token is not None:
        entry = _entry_from_db(code)
        store.cache_fill(code, token, entry)
        return entry
    deadline = time.monotonic() + store.LEASE_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(store.LEASE_POLL_SECONDS)
        cached = store.cache_get(code)
        if cached is store.MISSING:
            return None
        if cached is not None:
            return cached
    return _entry_from_db(code)


def link_list_for_owner(*, owner, tag: str | None = None, search: str | None = None) -> QuerySet[Link]:
    """The owner's links (deleted ones left out), newest first."""
    links = Link.objects.filter(owner=owner).exclude(state=LinkState.DELETED).order_by("-id")
    if tag:
        links = links.filter(tags__icontains=f"|{tag.strip().lower()}|")
    if search:
        term = search.strip()
        links = links.filter(
            Q(short_code__icontains=term) | Q(long_url__icontains=term) | Q(tags__icontains=term.lower())
        )
    return links


def link_get_for_owner(*, owner, code: str) -> Link:
    """The owner's link; another user's (or an unknown) code raises NotFound alike."""
    link = Link.objects.filter(owner=owner, short_code=code).first() if owner.is_authenticated else None
    if link is None:
        raise NotFound("Link not found.")
    return link


def link_get_public_or_owned(*, user, code: str) -> Link:
    """For QR codes: an ownerless link is public; an owned one only for its owner."""
    link = Link.objects.filter(short_code=code).exclude(state=LinkState.DELETED).first()
    if link is None or (link.owner_id is not None and (not user.is_authenticated or link.owner_id != user.pk)):
        raise NotFound("Link not found.")
    return link


def link_state(link: Link, now: datetime | None = None) -> str:
    """The state a visitor sees: an active link past its expiry is already expired."""
    if link.state == LinkState.ACTIVE and link.expires_at is not None and link.expires_at <= (now or timezone.now()):
        return LinkState.EXPIRED
    return link.state


def link_click_count(link: Link) -> int:
    """Flushed count plus increments still waiting in Redis."""
    return link.click_count + store.counts_pending(link.short_code)


def link_click_counts(links: list[Link]) -> dict[int, int]:
    """``link_click_count`` for a page of links in one Redis round trip."""
    pending = store.counts_pending_many([link.short_code for link in links])
    return {link.pk: link.click_count + pending.get(link.short_code, 0) for link in links}


# --- stats ------------------------------------------------------------------------------------

TOP_N = 10
# Stats bounds must fall inside this window: far enough from the calendar's edges that a range
# computed from them (a day added, a week taken off) can never leave it.
STATS_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
STATS_LATEST = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatsRange:
    start: datetime
    end: datetime  # exclusive
    granularity: str


def _parse_bound(value: str, field: str, *, is_end: bool) -> datetime:
    from django.utils.dateparse import parse_date, parse_datetime

    value = value.strip()
    try:
        if not value.isascii():  # ISO 8601 digits only: other scripts' digits parse as numbers too
            raise ValueError
        day = parse_date(value) if len(value) == 10 else None
        if day is not None:
            parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if is_end:  # a date as the end of a range includes that whole day
                parsed += timedelta(days=1)
        else:
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValueError
        parsed = timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # impossible dates, offsets past 24 h, the calendar's last day
        raise FieldError({field: "Must be an ISO 8601 date or datetime."})
    if not STATS_EARLIEST <= parsed <= STATS_LATEST:
        raise FieldError({field: f"Must be between {STATS_EARLIEST:%Y-%m-%d} and {STATS_LATEST:%Y-%m-%d}."})
    return parsed


def stats_range(*, start: str | None, end: str | None, granularity: str | None) -> StatsRange:
    now = timezone.now()
    end_at = _parse_bound(end, "to", is_end=True) if end else now
    start_at = _parse_bound(start, "from", is_end=False) if start else max(end_at - timedelta(days=7), STATS_EARLIEST)
    if start_at >= end_at:
        raise FieldError({"from": "Must be before 'to'."})
    if end_at - start_at > timedelta(days=731):
        raise FieldError({"from": "The range may span at most two years."})
    if granularity in (None, ""):
        granularity = "hour" if end_at - start_at <= timedelta(days=2) else "day"
    if granularity not in ("hour", "day"):
        raise FieldError({"granularity": "Must be 'hour' or 'day'."})
    if granularity == "hour" and end_at - start_at > timedelta(days=92):
        raise FieldError({"granularity": "Hourly series are limited to 92 days."})
    return StatsRange(start_at, end_at, granularity)


def _bucket_floor(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if granularity == "day" else moment


def link_stats(*, link: Link, window: StatsRange) -> dict:
    """Headline numbers, a gap-free series and top lists for one link (bots counted apart).

    Clicks come from the hourly rollups; unique visitors from the click table (distinct
    visitor hashes cannot be summed across hours).
    """
    first_hour = _bucket_floor(window.start, "hour")
    hours = LinkHourlyStats.objects.filter(link=link, hour__gte=first_hour, hour__lt=window.end)
    step = timedelta(hours=1) if window.granularity == "hour" else timedelta(days=1)
    buckets: dict[datetime, dict] = {}
    cursor = _bucket_floor(window.start, window.granularity)
    while cursor < window.end:
        buckets[cursor] = {"clicks": 0, "unique_visitors": 0}
        cursor += step
    clicks = bots = 0
    for hour, human, bot in hours.values_list("hour", "clicks", "bots"):
        clicks += human
        bots += bot
        bucket = buckets.get(_bucket_floor(hour, window.granularity))
        if bucket is not None:
            bucket["clicks"] += human

    humans = Click.objects.filter(link=link, time__gte=first_hour, time__lt=window.end, is_bot=False)
    unique_visitors = humans.aggregate(n=Count("visitor_hash", distinct=True))["n"] or 0
    trunc = TruncHour if window.granularity == "hour" else TruncDay
    per_bucket = (
        humans.annotate(bucket=trunc("time", tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("visitor_hash", distinct=True))
    )
    for row in per_bucket:
        bucket = buckets.get(_bucket_floor(row["bucket"], window.granularity))
        if bucket is not None:
            bucket["unique_visitors"] = row["n"]

    tops: dict[str, list[dict]] = {dimension.value: [] for dimension in Dimension}
    rows = (
        LinkHourlyDimension.objects.filter(link=link, hour__gte=first_hour, hour__lt=window.end)
        .values("dimension", "value")
        .annotate(n=Sum("clicks"))
        .order_by("dimension", "-n", "value")
    )
    for row in rows:
        top = tops[row["dimension"]]
        if len(top) < TOP_N:
            top.append({"name": row["value"], "clicks": row["n"]})

    return {
        "clicks": clicks,
        "unique_visitors": unique_visitors,
        "bots": bots,
        "granularity": window.granularity,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "series": [{"bucket": key.isoformat(), **value} for key, value in buckets.items()],
        "referrers": tops[Dimension.REFERRER],
        "countries": tops[Dimension.COUNTRY],
        "devices": tops[Dimension.DEVICE],
        "browsers": tops[Dimension.BROWSER],
        "os": tops[Dimension.OS],
    }
