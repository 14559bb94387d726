"""The click pipeline (stream -> consumer group -> Click rows) and the counter flush."""

import threading

import pytest

from shortener import store
from shortener.models import Click, ClickCountFlush, Link, LinkHourlyStats
from shortener.services import clicks

pytestmark = pytest.mark.django_db
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def record(code: str, n: int = 1, *, user_agent: str = UA, method: str = "GET", ip: str = "198.51.100.7"):
    for _ in range(n):
        store.click_record(code, referrer="https://ref.example/x", ip=ip, user_agent=user_agent, method=method,
                           count=method == "GET")


def test_consumed_clicks_are_enriched_rows_and_acknowledged(make_link):
    link = make_link()
    record(link.short_code, 3, ip="8.8.8.8")
    result = clicks.clicks_consume(consumer="c1")
    assert (result.read, result.inserted) == (3, 3)
    rows = list(Click.objects.filter(link=link))
    assert len(rows) == 3
    assert {(r.country, r.ip, r.browser, r.os, r.device, r.is_bot) for r in rows} == {
        ("US", "8.8.8.0", "Chrome", "Windows", "desktop", False)}
    assert len({r.stream_id for r in rows}) == 3
    assert store.click_pending_count() == 0
    assert store.click_stream_length() == 0
    assert LinkHourlyStats.objects.get(link=link).clicks == 3


def test_storing_the_same_entries_twice_inserts_them_once(make_link):
    link = make_link()
    record(link.short_code, 4)
    entries = store.click_read_new("c1", 100)
    first = clicks.clicks_store(entries)
    again = clicks.clicks_store(entries)  # a retry after a crash between commit and XACK
    assert (first.inserted, again.inserted, again.duplicates) == (4, 0, 4)
    assert Click.objects.filter(link=link).count() == 4
    assert LinkHourlyStats.objects.get(link=link).clicks == 4


def test_fresh_entries_that_were_somehow_stored_fall_back_to_the_checked_insert(make_link):
    # Fresh entries skip the lookup of stored ones; the unique stream id must still stop a duplicate
    # (and its rollup increment) if such an entry was stored after all, e.g. by a claiming consumer.
    link = make_link()
    record(link.short_code, 3)
    entries = store.click_read_new("c1", 100)
    assert clicks.clicks_store(entries[:2]).inserted == 2
    result = clicks.clicks_store(entries, fresh=True)
    assert (result.inserted, result.duplicates) == (1, 2)
    assert Click.objects.filter(link=link).count() == 3
    assert LinkHourlyStats.objects.get(link=link).clicks == 3


def test_entries_of_a_killed_consumer_are_claimed_and_inserted_exactly_once(make_link, settings):
    link = make_link()
    record(link.short_code, 5)
    # Consumer "dead" reads the entries and dies before storing or acknowledging them.
    assert len(store.click_read_new("dead", 100)) == 5
    assert store.click_pending_count() == 5
    settings.SHORTENER_CLAIM_IDLE_SECONDS = 3600
    assert clicks.clicks_consume(consumer="alive").inserted == 0  # not idle long enough yet
    settings.SHORTENER_CLAIM_IDLE_SECONDS = 0
    result = clicks.clicks_consume(consumer="alive")
    assert result.inserted == 5
    assert clicks.clicks_consume(consumer="alive").inserted == 0
    assert Click.objects.filter(link=link).count() == 5
    assert store.click_pending_count() == 0


def test_a_consumer_killed_after_commit_leaves_no_duplicates(make_link, settings):
    link = make_link()
    record(link.short_code, 3)
    entries = store.click_read_new("dead", 100)
    clicks.clicks_store(entries)  # committed, then the process died before XACK
    settings.SHORTENER_CLAIM_IDLE_SECONDS = 0
    result = clicks.clicks_consume(consumer="alive")
    assert (result.read, result.inserted, result.duplicates) == (3, 0, 3)
    assert Click.objects.filter(link=link).count() == 3
    assert store.click_pending_count() == 0


def test_bots_and_head_requests_are_recorded_as_bots(make_link):
    link = make_link()
    record(link.short_code, 2)
    record(link.short_code, 1, user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    record(link.short_code, 1, method="HEAD")
    clicks.clicks_consume(consumer="c1")
    assert Click.objects.filter(link=link, is_bot=True).count() == 2
    hourly = LinkHourlyStats.objects.get(link=link)
    assert (hourly.clicks, hourly.bots) == (2, 2)


def test_clicks_for_unknown_codes_are_acknowledged_and_dropped():
    record("no-such-link", 2)
    result = clicks.clicks_consume(consumer="c1")
    assert (result.read, result.orphans, result.inserted) == (2, 2, 0)
    assert store.click_pending_count() == 0


def test_flush_adds_counters_to_click_count(make_link):
    link = make_link()
    record(link.short_code, 7)
    assert clicks.click_counts_flush() == 7
    link.refresh_from_db()
    assert link.click_count == 7
    assert store.counts_pending(link.short_code) == 0
    assert clicks.click_counts_flush() == 0


def test_a_flush_retried_after_a_crash_does_not_add_twice(make_link, monkeypatch):
    link = make_link()
    record(link.short_code, 4)
    monkeypatch.setattr(store, "counts_release", lambda batch_id: None)  # crash after commit, before release
    assert clicks.click_counts_flush() == 4
    monkeypatch.undo()
    record(link.short_code, 1)  # arrives meanwhile, into a fresh pending hash
    assert clicks.click_counts_flush() == 0  # the leftover batch is recognised and dropped
    assert clicks.click_counts_flush() == 1
    link.refresh_from_db()
    assert link.click_count == 5
    assert ClickCountFlush.objects.count() == 2


def test_a_flusher_that_lost_the_race_for_a_batch_leaves_the_next_batch_alone(make_link):
    link = make_link()
    record(link.short_code, 3)
    stale_batch, counts = store.counts_claim(999)  # flusher A takes the batch, then stalls
    assert counts == {link.short_code: 3}
    assert clicks.click_counts_flush() == 3  # flusher B applies the same batch and releases it
    record(link.short_code, 2)
    next_batch, counts = store.counts_claim(1000)  # flusher C moves the new counters aside
    assert (next_batch, counts) == (1000, {link.short_code: 2})
    assert store.counts_release(stale_batch) is False  # A wakes up: its batch is gone, C's stays
    assert store.counts_pending(link.short_code) == 2
    assert clicks.click_counts_flush() == 2
    link.refresh_from_db()
    assert link.click_count == 5


@pytest.mark.django_db(transaction=True)
def test_no_increment_is_lost_while_several_workers_flush_concurrently(make_link):
    link = make_link()
    per_thread, threads_n = 300, 3
    done = threading.Event()

    def clicker():
        for _ in range(per_thread):
            store.get_redis().hincrby(store.CLICK_COUNTS_KEY, link.short_code, 1)

    def flusher():
        from django.db import connection

        while not done.is_set():
            clicks.click_counts_flush()
        connection.close()

    flushers = [threading.Thread(target=flusher) for _ in range(3)]
    workers = [threading.Thread(target=clicker) for _ in range(threads_n)]
    for thread in [*flushers, *workers]:
        thread.start()
    for worker in workers:
        worker.join()
    done.set()
    for thread in flushers:
        thread.join()
    clicks.click_counts_flush()
    assert Link.objects.get(pk=link.pk).click_count == per_thread * threads_n


@pytest.mark.django_db(transaction=True)
def test_no_increment_is_lost_while_flushing_concurrently(make_link):
    link = make_link()
    per_thread, threads_n = 300, 4
    done = threading.Event()

    def clicker():
        for _ in range(per_thread):
            store.get_redis().hincrby(store.CLICK_COUNTS_KEY, link.short_code, 1)

    def flusher():
        from django.db import connection

        while not done.is_set():
            clicks.click_counts_flush()
        connection.close()

    flush_thread = threading.Thread(target=flusher)
    flush_thread.start()
    workers = [threading.Thread(target=clicker) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    flush_thread.join()
    clicks.click_counts_flush()
    assert Link.objects.get(pk=link.pk).click_count == per_thread * threads_n


@pytest.mark.django_db(transaction=True)
def test_two_consumers_draining_together_insert_each_click_once(make_link):
    link = make_link()
    record(link.short_code, 400)

    def consume(name):
        from django.db import connection

        clicks.clicks_consume(consumer=name, batch_size=50)
        connection.close()

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clicks.clicks_consume(consumer="c0")
    assert Click.objects.filter(link=link).count() == 400
    assert LinkHourlyStats.objects.get(link=link).clicks == 400


def test_consume_task_and_flush_task_run_the_services(make_link):
    from shortener import tasks

    link = make_link()
    record(link.short_code, 2)
    assert tasks.consume_clicks.delay() is not None
    tasks.flush_click_counts.delay()
    link.refresh_from_db()
    assert Click.objects.filter(link=link).count() == 2
    assert link.click_count == 2


def test_idle_consumers_without_pending_work_are_forgotten(make_link):
    link = make_link()
    record(link.short_code, 2)
    store.click_read_new("gone", 1)  # "gone" keeps one pending entry
    store.click_read_new("finished", 1)
    names = {c["name"].decode() for c in store.get_redis().xinfo_consumers(store.CLICK_STREAM_KEY, store.CLICK_GROUP)}
    assert names == {"gone", "finished"}
    pending = store.get_redis().xpending_range(store.CLICK_STREAM_KEY, store.CLICK_GROUP, "-", "+", 10, "finished")
    store.click_ack([p["message_id"].decode() for p in pending])
    assert store.click_consumers_prune(0) == ["finished"]
    names = {c["name"].decode() for c in store.get_redis().xinfo_consumers(store.CLICK_STREAM_KEY, store.CLICK_GROUP)}
    assert names == {"gone"}


def test_a_database_failure_while_storing_leaves_the_clicks_pending_for_a_later_consumer(make_link, settings,
                                                                                          monkeypatch):
    from django.db import DatabaseError

    link = make_link()
    record(link.short_code, 4)
    real_insert = clicks._insert_clicks

    def insert_then_fail(rows):
        real_insert(rows)  # the rows are written inside the transaction, then the database gives out
        raise DatabaseError("connection lost mid-batch")

    monkeypatch.setattr(clicks, "_insert_clicks", insert_then_fail)
    with pytest.raises(DatabaseError):
        clicks.clicks_consume(consumer="crashing")
    assert Click.objects.filter(link=link).count() == 0
    assert not LinkHourlyStats.objects.filter(link=link).exists()
    assert store.click_pending_count() == 4  # delivered, never acknowledged

    monkeypatch.setattr(clicks, "_insert_clicks", real_insert)
    settings.SHORTENER_CLAIM_IDLE_SECONDS = 0
    result = clicks.clicks_consume(consumer="later")
    assert result.inserted == 4
    assert clicks.clicks_consume(consumer="later").inserted == 0
    assert Click.objects.filter(link=link).count() == 4
    assert len(set(Click.objects.filter(link=link).values_list("stream_id", flat=True))) == 4
    assert LinkHourlyStats.objects.get(link=link).clicks == 4
    assert store.click_pending_count() == 0


# --- one row per visit -----------------------------------------------------------------------

def record_visit(code: str, visit_id: int, *, user_agent: str = UA) -> None:
    """One stream entry of ``visit_id``. The redirect paths send a visit to Redis once; the tests
    below send one twice to check the consumer still stores one row for it."""
    store.click_record(code, referrer="", ip="198.51.100.7", user_agent=user_agent, method="GET", count=True,
                       visit_id=visit_id)


def test_a_click_is_stored_at_the_time_of_its_visit_id(make_link):
    from core.snowflake import next_id, parse

    link = make_link()
    visit_id = next_id()
    record_visit(link.short_code, visit_id)
    clicks.clicks_consume(consumer="c1")
    row = Click.objects.get(link=link)
    assert row.visit_id == visit_id
    assert int(row.time.timestamp() * 1000) == parse(visit_id).timestamp_ms


def test_a_visit_already_stored_by_an_earlier_batch_is_skipped(make_link):
    from core.snowflake import next_id

    link = make_link()
    visit_id = next_id()
    record_visit(link.short_code, visit_id)
    assert clicks.clicks_consume(consumer="c1").inserted == 1
    record_visit(link.short_code, visit_id)
    record(link.short_code, 1)  # another visit in the same batch is still stored
    # Read as fresh: the insert hits the unique visit id (COPY on PostgreSQL, INSERT on SQLite) and the retry skips it.
    result = clicks.clicks_consume(consumer="c1")
    assert (result.read, result.inserted, result.duplicates) == (2, 1, 1)
    assert Click.objects.filter(link=link).count() == 2
    assert Click.objects.filter(link=link, visit_id=visit_id).count() == 1
    assert LinkHourlyStats.objects.get(link=link).clicks == 2
    assert store.click_pending_count() == 0


def test_two_entries_of_one_visit_in_one_batch_are_one_row(make_link):
    from core.snowflake import next_id

    link = make_link()
    visit_id = next_id()
    record_visit(link.short_code, visit_id)
    record_visit(link.short_code, visit_id)
    result = clicks.clicks_consume(consumer="c1")
    assert (result.read, result.inserted, result.duplicates) == (2, 1, 1)
    assert Click.objects.filter(link=link).count() == 1
    assert LinkHourlyStats.objects.get(link=link).clicks == 1


def test_entries_from_before_visit_ids_are_each_stored(make_link):
    link = make_link()
    for _ in range(2):  # the old entry shape: no visit id, timed by the stream id
        store.get_redis().xadd(store.CLICK_STREAM_KEY, {"ts": "0", "c": link.short_code, "r": "", "i": "8.8.8.8",
                                                        "a": UA, "m": "GET"})
    assert clicks.clicks_consume(consumer="c1").inserted == 2
    assert list(Click.objects.filter(link=link).values_list("visit_id", flat=True)) == [None, None]
    assert clicks.clicks_store(store.click_read_new("c1", 10)).read == 0  # nothing left, nothing doubled
    assert Click.objects.filter(link=link).count() == 2


def test_acknowledging_drops_only_entries_no_consumer_still_owes(make_link):
    link = make_link()
    record(link.short_code, 5)
    held = store.click_read_new("slow", 2)  # the two oldest, pending at "slow"
    done = store.click_read_new("fast", 3)
    store.click_ack([entry_id for entry_id, _ in done])
    assert store.click_stream_length() == 5  # nothing before "slow"'s pending entries is done
    record(link.short_code, 1)  # not delivered yet
    store.click_ack([entry_id for entry_id, _ in held])
    assert store.click_stream_length() == 1  # only the undelivered one is left
    [(last_id, _)] = store.click_read_new("fast", 10)
    store.click_ack([last_id])
    assert store.click_stream_length() == 0
