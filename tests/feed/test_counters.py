"""Counters: live in Redis, flushed to the database by beat with an atomic swap, rebuilt by command."""

import io
import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from core.redis import get_redis
from feed import store, tasks
from feed.models import FeedAccount, Status
from feed.services.counters import counters_flush
from tests.feed.helpers import follow, post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_reads_show_live_counts_before_the_flush_and_the_flush_writes_them(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    follow(a, bob)
    follow(c, bob)
    status = post(b, "count me")["id"]
    a.post(f"/api/v1/statuses/{status}/favourite")
    c.post(f"/api/v1/statuses/{status}/favourite")
    c.post(f"/api/v1/statuses/{status}/reblog")
    post(a, "a reply", in_reply_to_id=status)

    shown = a.get(f"/api/v1/statuses/{status}").json()
    assert (shown["favourites_count"], shown["reblogs_count"], shown["replies_count"]) == (2, 1, 1)
    assert (shown["account"]["followers_count"], shown["account"]["statuses_count"]) == (2, 1)
    row = Status.objects.get(id=status)
    assert (row.favourites_count, row.reblogs_count, row.replies_count) == (0, 0, 0)  # not flushed yet

    assert tasks.flush_counters() > 0
    row.refresh_from_db()
    assert (row.favourites_count, row.reblogs_count, row.replies_count) == (2, 1, 1)
    bob_counts = FeedAccount.objects.get(user=bob)
    assert (bob_counts.followers_count, bob_counts.following_count, bob_counts.statuses_count) == (2, 0, 1)
    assert FeedAccount.objects.get(user=carol).statuses_count == 1  # the reblog
    assert tasks.flush_counters() == 0  # nothing pending: nothing applied twice

    a.post(f"/api/v1/statuses/{status}/unfavourite")
    assert a.get(f"/api/v1/statuses/{status}").json()["favourites_count"] == 1
    tasks.flush_counters()
    row.refresh_from_db()
    assert row.favourites_count == 1


def test_the_flush_loses_and_doubles_nothing_under_concurrent_increments(alice):
    status = Status.objects.create(account=alice, text="busy")
    per_thread, writers = 250, 4
    writers_done, flushed_some = threading.Event(), threading.Event()

    def flusher():
        try:
            while not writers_done.is_set():
                if counters_flush():
                    flushed_some.set()
        finally:
            connection.close()

    def write(i):
        for n in range(per_thread):
            if n == per_thread // 2:  # half-way, make sure a flush swapped increments out under us
                flushed_some.wait(timeout=10)
            store.counters_increment([("s", status.id, "favourites_count", 1)])

    background = threading.Thread(target=flusher)
    background.start()
    try:
        run_concurrently(write, writers)
    finally:
        writers_done.set()
        background.join(timeout=30)
    assert flushed_some.is_set()
    counters_flush()
    status.refresh_from_db()
    assert status.favourites_count == per_thread * writers
    assert store.counters_get("s", [status.id])[status.id]["favourites_count"] == per_thread * writers
    assert store.counters_pending() == {}


def test_a_flush_that_died_after_the_swap_is_completed_by_the_next_one(alice):
    status = Status.objects.create(account=alice, text="x")
    store.counters_increment([("s", status.id, "reblogs_count", 3)])
    assert store.counters_swap() == {f"s:{status.id}:reblogs_count": 3}  # swapped, then the flusher died
    store.counters_increment([("s", status.id, "reblogs_count", 1)])  # waits in a new pending hash
    counters_flush()
    status.refresh_from_db()
    assert status.reblogs_count == 3
    counters_flush()
    status.refresh_from_db()
    assert status.reblogs_count == 4


def test_rebuild_counters_restores_them_from_the_database_after_redis_lost_its_data(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    follow(a, bob)
    follow(c, bob)
    status = post(b, "remembered")["id"]
    a.post(f"/api/v1/statuses/{status}/favourite")
    c.post(f"/api/v1/statuses/{status}/reblog")
    gone = post(b, "deleted")["id"]
    b.delete(f"/api/v1/statuses/{gone}")

    get_redis().flushdb()
    out = io.StringIO()
    call_command("feed_rebuild_counters", stdout=out)
    assert "2 statuses" in out.getvalue()  # "remembered" and carol's reblog of it; not the deleted one

    shown = a.get(f"/api/v1/statuses/{status}").json()
    assert (shown["favourites_count"], shown["reblogs_count"], shown["replies_count"]) == (1, 1, 0)
    assert (shown["account"]["followers_count"], shown["account"]["statuses_count"]) == (2, 1)
    account = a.get(f"/api/v1/accounts/{alice.id}").json()
    assert (account["following_count"], account["followers_count"]) == (1, 0)
    row = Status.objects.get(id=status)
    assert (row.favourites_count, row.reblogs_count) == (1, 1)
    assert FeedAccount.objects.get(user=bob).followers_count == 2
    a.post(f"/api/v1/statuses/{status}/unfavourite")  # live counting resumes from the restored value
    assert a.get(f"/api/v1/statuses/{status}").json()["favourites_count"] == 0


def test_beat_flushes_the_counters_every_10_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["feed-flush-counters"]
    assert entry == {"task": "feed.flush_counters", "schedule": 10.0}


def test_without_live_counters_reads_show_the_last_flushed_values(alice, bob, as_user):
    a = as_user(alice)
    follow(a, bob)
    status = post(as_user(bob), "flushed")["id"]
    a.post(f"/api/v1/statuses/{status}/favourite")
    tasks.flush_counters()
    get_redis().flushdb()  # Redis lost its data; the rebuild has not run yet
    assert a.get(f"/api/v1/statuses/{status}").json()["favourites_count"] == 1
    account = a.get(f"/api/v1/accounts/{bob.id}").json()
    assert (account["followers_count"], account["statuses_count"]) == (1, 1)
