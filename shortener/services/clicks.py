"""The click pipeline: raw stream entries -> enriched Click rows + hourly rollups; counter flushes."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from core import base62
from core.snowflake import next_id
from core.snowflake import timestamp_ms as snowflake_ms
from shortener import store
from shortener.enrichment import enrich
from shortener.models import Click, ClickCountFlush, Dimension, Link, LinkHourlyDimension, LinkHourlyStats

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _claim_idle_ms() -> int:
    return int(getattr(settings, "SHORTENER_CLAIM_IDLE_SECONDS", 30) * 1000)


@dataclass
class ConsumeResult:
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    orphans: int = 0  # entries for codes with no link (nothing to attach them to)

    def __iadd__(self, other: ConsumeResult) -> ConsumeResult:
        self.read += other.read
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.orphans += other.orphans
        return self


def _visit_id(fields: dict[str, str]) -> int | None:
    """The visit's Snowflake (entries and rows written before visits had ids have none)."""
    value = fields.get("v", "")
    return int(value) if value.isascii() and value.isdigit() and int(value) < 1 << 63 else None


def _entry_millis(entry_id: str, visit_id: int | None) -> int:
    # The visit id's timestamp, which every path recording that visit shares; else the stream id's
    # millisecond part, when Redis accepted the click. Either is deterministic on retry.
    return snowflake_ms(visit_id) if visit_id is not None else int(entry_id.split("-", 1)[0])


def is_direct_entry(entry_id: str) -> bool:
    """An id made by ``direct_entry_id`` (a click written straight to the database), not by Redis."""
    return "-d" in entry_id


def direct_entry_id(visit_id: int) -> str:
    """The stream-style id of a click stored without Redis: ``<ms>-d<base62 visit id>``, never one Redis makes."""
    return f"{snowflake_ms(visit_id)}-d{base62.encode(visit_id)}"


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# How often one batch is re-filtered and retried when concurrent writers store some of its visits first.
STORE_ATTEMPTS = 8


def clicks_store(entries: list[tuple[str, dict[str, str]]], *, fresh: bool = False) -> ConsumeResult:
    """Insert the clicks of ``entries`` and add them to the rollups, all in one transaction.

    Idempotent: entries already stored (a retry after a crash between commit and XACK) are
    skipped, so each stream entry becomes exactly one Click row; so is an entry whose visit id is
    already stored (the visit was retried by another path), and a visit Django wrote straight to
    the database while Redis was away has its stream entry's pending count taken back off
    ``click_count``. ``fresh`` entries (read with ``>``, never delivered before) are rarely stored
    yet, so the first attempt skips that lookup; the unique constraints on the stream id and the
    visit id still catch the unexpected, and the retry checks. ``inserted`` counts new rows only.
    """
    result = ConsumeResult(read=len(entries))
    if not entries:
        return result
    codes = {fields.get("c", "") for _, fields in entries}
    link_ids = dict(Link.objects.filter(short_code__in=codes).values_list("short_code", "pk"))
    for attempt in range(STORE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _store_once(entries, link_ids, result, check_existing=attempt > 0 or not fresh)
        except IntegrityError:
            # Another consumer (or a Redis-less redirect) stored some of these concurrently: re-filter
            # and retry, after a short random pause so writers racing for the same visits fall apart.
            logger.info("click batch raced another writer; retrying")
            time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
    # Left pending in the stream: a later consumer pass claims and stores the batch.
    raise RuntimeError("click batch kept conflicting")


def _stored(times: dict[str, datetime], visits: dict[str, int | None]) -> tuple[set[str], dict[int, str]]:
    """Stream ids of ``times`` already stored, and the visits already stored with their rows' stream ids."""
    known = Q(stream_id__in=list(times))
    visit_ids = [visit_id for visit_id in visits.values() if visit_id is not None]
    if visit_ids:
        known |= Q(visit_id__in=visit_ids)
    rows = Click.objects.filter(known, time__gte=min(times.values()), time__lte=max(times.values()))
    stream_ids, stored_visits = set(), {}
    for stream_id, visit_id in rows.values_list("stream_id", "visit_id"):
        stream_ids.add(stream_id)
        if visit_id is not None:
            stored_visits[visit_id] = stream_id
    return stream_ids, stored_visits


def _store_once(entries, link_ids: dict[str, int], result: ConsumeResult, *, check_existing: bool) -> ConsumeResult:
    visits = {entry_id: _visit_id(fields) for entry_id, fields in entries}
    # A batch's clicks share few milliseconds, and fewer days and hours: each is worked out once.
    by_millis: dict[int, tuple[datetime, str, datetime]] = {}
    times: dict[str, datetime] = {}
    for entry_id, _ in entries:
        millis = _entry_millis(entry_id, visits[entry_id])
        when = by_millis.get(millis)
        if when is None:
            moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
            when = by_millis[millis] = (moment, moment.date().isoformat(), _hour(moment))
        times[entry_id] = when[0]
    stored_streams: set[str] = set()
    stored_visits: dict[int, str] = {}
    if check_existing:
        stored_streams, stored_visits = _stored(times, visits)
    result.duplicates = result.orphans = 0
    clicks: list[tuple] = []
    batch_visits: set[int] = set()
    adopted: list[tuple[str, dict[str, str], int, datetime]] = []
    hourly: Counter = Counter()
    hourly_bots: Counter = Counter()
    profiles: Counter = Counter()  # (link, hour, referrer host, country, device, browser, os) -> clicks
    for entry_id, fields in entries:
        visit_id = visits[entry_id]
        if entry_id in stored_streams or visit_id in batch_visits:
            result.duplicates += 1
            continue
        link_id = link_ids.get(fields.get("c", ""))
        if visit_id in stored_visits:
            result.duplicates += 1
            if is_direct_entry(stored_visits[visit_id]) and not is_direct_entry(entry_id) and link_id is not None:
                adopted.append((entry_id, fields, visit_id, times[entry_id]))
            continue
        if link_id is None:
            result.orphans += 1
            continue
        moment, day, hour = by_millis[_entry_millis(entry_id, visit_id)]
        info = enrich(
            ip=fields.get("i", ""),
            user_agent=fields.get("a", ""),
            referrer=fields.get("r", ""),
            method=fields.get("m", "GET"),
            day=day,
        )
        clicks.append((
            next_id(), moment, link_id, fields.get("r", "")[:512], info.referrer_host, info.ip, info.country,
            info.device, info.browser, info.os, info.is_bot, info.visitor_hash, entry_id, visit_id,
        ))
        if visit_id is not None:
            batch_visits.add(visit_id)
        if info.is_bot:
            hourly_bots[(link_id, hour)] += 1
            continue
        hourly[(link_id, hour)] += 1
        profiles[(link_id, hour, info.referrer_host, info.country or "unknown", info.device, info.browser,
                  info.os)] += 1
    _insert_clicks(clicks)
    _rollup_hourly(hourly, hourly_bots)
    _rollup_dimensions(_dimensions(profiles))
    _adopt_direct_clicks(adopted, link_ids)  # last: links are locked after click rows, as every writer does
    result.inserted = len(clicks)
    return result


_PROFILE_DIMENSIONS = (Dimension.REFERRER, Dimension.COUNTRY, Dimension.DEVICE, Dimension.BROWSER, Dimension.OS)


def _dimensions(profiles: Counter) -> Counter:
    """(link, hour, dimension, value) -> clicks, from clicks counted per (link, hour, value of each dimension)."""
    dims: Counter = Counter()
    for (link_id, hour, *values), n in profiles.items():
        for dimension, value in zip(_PROFILE_DIMENSIONS, values, strict=True):
            dims[(link_id, hour, dimension.value, value)] += n
    return dims


def _adopt_direct_clicks(adopted: list[tuple[str, dict[str, str], int, datetime]], link_ids: dict[str, int]) -> None:
    """Stream entries of visits already written straight to the database (their replies were lost).

    That write counted each visit; the entry's pending increment counts it again, so it is taken
    back here. The row takes the entry's id, so a retry of this entry is a plain duplicate.
    """
    taken_back: Counter = Counter()
    for entry_id, fields, visit_id, moment in adopted:
        Click.objects.filter(visit_id=visit_id, time=moment).update(stream_id=entry_id)
        if fields.get("k") == "1":
            taken_back[fields["c"]] += 1
    for code, n in sorted(taken_back.items()):  # the flush's order: no deadlock between the two
        Link.objects.filter(pk=link_ids[code]).update(click_count=F("click_count") - n)


_CLICK_COLUMNS = ("id", "time", "link_id", "referrer", "referrer_host", "ip", "country", "device", "browser", "os",
                  "is_bot", "visitor_hash", "stream_id", "visit_id")


def _insert_clicks(rows: list[tuple]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        # COPY: one stream of rows, routed to the month partitions by PostgreSQL itself.
        columns = ", ".join(_CLICK_COLUMNS)
        copy_sql = f"COPY {Click._meta.db_table} ({columns}) FROM STDIN"  # noqa: S608 - constant names
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    # Elsewhere one prepared single-row INSERT run many times: on SQLite far cheaper than bulk_create,
    # which must split 13-column rows into many small statements to stay under the variable limit.
    sql = (
        f"INSERT INTO {Click._meta.db_table} ({', '.join(_CLICK_COLUMNS)}) "  # noqa: S608 - constant names
        f"VALUES ({', '.join(['%s'] * len(_CLICK_COLUMNS))})"
    )
    adapt = connection.ops.adapt_datetimefield_value  # times are already aware UTC datetimes
    prepared = [(row[0], adapt(row[1]), *row[2:]) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def _rollup_hourly(hourly: Counter, hourly_bots: Counter) -> None:
    keys = set(hourly) | set(hourly_bots)
    if not keys:
        return
    table = LinkHourlyStats._meta.db_table
    sql = (
        f"INSERT INTO {table} (link_id, hour, clicks, bots) VALUES (%s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (link_id, hour) DO UPDATE SET clicks = {table}.clicks + excluded.clicks, "
        f"bots = {table}.bots + excluded.bots"
    )
    rows = [(link_id, hour, hourly[(link_id, hour)], hourly_bots[(link_id, hour)]) for link_id, hour in keys]
    _executemany(sql, rows, LinkHourlyStats._meta.get_field("hour"))


def _rollup_dimensions(dims: Counter) -> None:
    if not dims:
        return
    table = LinkHourlyDimension._meta.db_table
    sql = (
        f"INSERT INTO {table} (link_id, hour, dimension, value, clicks) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (link_id, hour, dimension, value) DO UPDATE SET clicks = {table}.clicks + excluded.clicks"
    )
    rows = [(link_id, hour, dimension, value[:253], n) for (link_id, hour, dimension, value), n in dims.items()]
    _executemany(sql, rows, LinkHourlyDimension._meta.get_field("hour"))


def _executemany(sql: str, rows: list[tuple], hour_field) -> None:
    # Datetimes go through the field's adapter so SQLite and PostgreSQL store the same value as the ORM.
    prepared = [
        tuple(hour_field.get_db_prep_value(v, connection) if isinstance(v, datetime) else v for v in row)
        for row in sorted(rows, key=lambda r: (r[0], r[1]))  # fixed order: no deadlocks between consumers
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def clicks_consume(
    *, consumer: str | None = None, batch_size: int = BATCH_SIZE, max_batches: int = 50, claim: bool = True
) -> ConsumeResult:
    """Drain the click stream: claim entries idle too long at dead consumers, then read new ones.

    Entries are acknowledged only after their transaction commits; a crash before that leaves them
    pending for another consumer to claim (and the stream id keeps the retry from duplicating).
    """
    consumer = consumer or consumer_name()
    total = ConsumeResult()
    store.click_group_ensure()
    if claim:
        # Consumer names are per process: drop those of processes long gone once their work is claimed.
        store.click_consumers_prune(max(_claim_idle_ms(), 3_600_000))
        while stale := store.click_claim_stale(consumer, _claim_idle_ms(), batch_size):
            total += _process(stale, fresh=False)
            if len(stale) < batch_size:
                break
    for _ in range(max_batches):
        entries = store.click_read_new(consumer, batch_size)
        if not entries:
            break
        total += _process(entries, fresh=True)
        if len(entries) < batch_size:
            break
    return total


def _process(entries, *, fresh: bool) -> ConsumeResult:
    result = clicks_store(entries, fresh=fresh)
    store.click_ack([entry_id for entry_id, _ in entries])
    return result


def click_counts_flush() -> int:
    """Add the Redis counters to Link.click_count exactly once; returns the clicks applied.

    The pending hash is renamed away atomically (increments arriving meanwhile start a new one);
    the batch id recorded in the same transaction as the updates makes a retried flush a no-op.
    """
    batch_id, counts = store.counts_claim(next_id())
    if not counts:
        return 0
    applied = 0
    try:
        with transaction.atomic():
            ClickCountFlush.objects.create(batch_id=batch_id)
            for code, increment in sorted(counts.items()):
                Link.objects.filter(short_code=code).update(click_count=F("click_count") + increment)
                applied += increment
    except IntegrityError:
        applied = 0  # this batch was applied before a crash kept it from being released
    store.counts_release(batch_id)
    return applied


def consume_forever(*, stdout=None, idle_sleep: float = 0.2, stop_after: float | None = None) -> None:
    """The long-running consumer loop behind the management command."""
    consumer = consumer_name()
    started = time.monotonic()
    totals = ConsumeResult()
    while stop_after is None or time.monotonic() - started < stop_after:
        result = clicks_consume(consumer=consumer)
        totals += result
        if result.read and stdout is not None:
            stdout.write(
                f"read {result.read} inserted {result.inserted} duplicates {result.duplicates} "
                f"orphans {result.orphans} (total inserted {totals.inserted}, "
                f"stream {store.click_stream_length()}, pending {store.click_pending_count()})"
            )
        if not result.read:
            click_counts_flush()
            time.sleep(idle_sleep)
    # A loop that stops while busy still leaves the counters it saw flushed.
    click_counts_flush()


