"""The read path: cache fill, invalidation, negative cache, the miss lease."""

import threading
from unittest import mock

import pytest

from core import hotredis
from shortener import selectors, store

pytestmark = pytest.mark.django_db


def test_a_miss_fills_the_cache_and_the_next_read_skips_the_database(make_link, django_assert_num_queries):
    link = make_link()
    store.cache_invalidate(link.short_code)
    with django_assert_num_queries(1):
        entry = selectors.link_for_redirect(link.short_code)
    assert entry.long_url == link.long_url
    with django_assert_num_queries(0):
        assert selectors.link_for_redirect(link.short_code) == entry
    assert 0 < store.cache_ttl(link.short_code) <= store.LINK_CACHE_TTL


def test_unknown_codes_are_negatively_cached(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert selectors.link_for_redirect("ghost-code") is None
    with django_assert_num_queries(0):
        assert selectors.link_for_redirect("ghost-code") is None
    assert 0 < store.cache_ttl("ghost-code") <= store.NEGATIVE_CACHE_TTL


def test_creating_an_alias_clears_its_negative_cache_entry(client, make_link):
    assert client.get("/fresh-alias").status_code == 404
    make_link(custom_alias="fresh-alias", long_url="https://example.com/fresh")
    response = client.get("/fresh-alias")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/fresh"


def test_editing_a_link_invalidates_its_cache_entry_at_once(auth_client, make_link, client):
    link = make_link(owner=auth_client.user, long_url="https://example.com/old")
    assert client.get(f"/{link.short_code}")["Location"] == "https://example.com/old"
    response = auth_client.patch(f"/api/v1/links/{link.short_code}", {"long_url": "https://example.com/new"},
                                 format="json")
    assert response.status_code == 200
    assert store.cache_get(link.short_code) is None
    assert client.get(f"/{link.short_code}")["Location"] == "https://example.com/new"


def test_a_fill_that_raced_an_invalidation_is_dropped(make_link):
    link = make_link()
    store.cache_invalidate(link.short_code)
    token = store.lease_acquire(link.short_code)
    stale = selectors._entry_from_db(link.short_code)
    store.cache_invalidate(link.short_code)  # an edit commits while the load is in flight
    assert store.cache_fill(link.short_code, token, stale) is False
    assert store.cache_get(link.short_code) is None


def test_hot_links_get_a_longer_ttl(make_link):
    import asyncio

    link = make_link()
    selectors.link_for_redirect(link.short_code)

    async def hit(n):
        for _ in range(n):
            await store.aredirect(link.short_code, referrer="", ip="1.2.3.4", user_agent="x", method="GET", count=True)

    asyncio.run(hit(store.HOT_LINK_THRESHOLD))
    assert store.cache_ttl(link.short_code) > store.LINK_CACHE_TTL


def test_a_link_crossing_the_hot_threshold_within_one_batch_gets_the_longer_ttl(make_link):
    import asyncio

    link = make_link()
    selectors.link_for_redirect(link.short_code)
    store.get_redis().hset(store.CLICK_COUNTS_KEY, link.short_code, store.HOT_LINK_THRESHOLD - 2)

    async def one_pass(n):
        await asyncio.gather(*(
            store.aredirect(link.short_code, referrer="", ip="1.2.3.4", user_agent="x", method="GET", count=True)
            for _ in range(n)
        ))

    asyncio.run(one_pass(5))  # 18 -> 23 in one script call
    assert store.cache_ttl(link.short_code) > store.LINK_CACHE_TTL


@pytest.mark.django_db(transaction=True)
def test_concurrent_misses_read_the_database_once(make_link):
    link = make_link()
    store.cache_invalidate(link.short_code)
    loads = []
    real_load = selectors._entry_from_db
    release = threading.Event()

    def slow_load(code):
        loads.append(code)
        release.wait(2)  # keep the lease held while the others arrive
        return real_load(code)

    results = []
    barrier = threading.Barrier(8)

    def reader():
        barrier.wait()
        results.append(selectors.link_for_redirect(link.short_code))
        from django.db import connection

        connection.close()

    with mock.patch.object(selectors, "_entry_from_db", side_effect=slow_load), \
            mock.patch.object(store, "LEASE_WAIT_SECONDS", 10):
        threads = [threading.Thread(target=reader) for _ in range(8)]
        for thread in threads:
            thread.start()
        while not loads:
            threading.Event().wait(0.005)
        threading.Event().wait(0.05)
        release.set()
        for thread in threads:
            thread.join()
    assert len(loads) == 1
    assert len(results) == 8
    assert all(result is not None and result.long_url == link.long_url for result in results)


def test_a_waiter_reads_the_database_itself_when_the_lease_holder_is_too_slow(make_link, django_assert_num_queries):
    link = make_link()
    store.cache_invalidate(link.short_code)
    assert store.lease_acquire(link.short_code) is not None  # another process holds the lease and stalls
    with mock.patch.object(store, "LEASE_WAIT_SECONDS", 0.05), django_assert_num_queries(1):
        entry = selectors.link_for_redirect(link.short_code)
    assert entry.long_url == link.long_url
    assert store.cache_get(link.short_code) is None  # only the lease holder fills the cache


def test_concurrent_redirects_of_one_loop_share_a_round_trip_and_keep_their_own_outcomes(make_link):
    import asyncio

    plain = make_link(long_url="https://example.com/plain")
    other = make_link(long_url="https://example.com/other", redirect_type=301)
    locked = make_link(long_url="https://example.com/locked", password="open-sesame-42")
    uncached = make_link(long_url="https://example.com/uncached")
    for link in (plain, other, locked):
        selectors.link_for_redirect(link.short_code)
    selectors.link_for_redirect("ghost-code")
    store.cache_invalidate(uncached.short_code)
    calls = []

    async def hits():
        conn = hotredis.connection()
        real_execute = conn.execute

        async def counting_execute(*command):
            calls.append(command[0])
            return await real_execute(*command)

        conn.execute = counting_execute
        asks = [(plain.short_code, True), (other.short_code, True), (plain.short_code, False),
                (locked.short_code, True), ("ghost-code", True), (uncached.short_code, True)]
        return await asyncio.gather(*(
            store.aredirect(code, referrer="", ip="1.2.3.4", user_agent="x", method="GET", count=count)
            for code, count in asks
        ))

    outcomes = asyncio.run(hits())
    assert [(o.kind, o.long_url, o.redirect_type) for o in outcomes] == [
        ("ok", "https://example.com/plain", 302),
        ("ok", "https://example.com/other", 301),
        ("ok", "https://example.com/plain", 302),
        ("django", "", 302),
        ("missing", "", 302),
        ("miss", "", 302),
    ]
    assert calls in (["EVALSHA"], ["EVALSHA", "EVAL"])  # one script call for all six
    # Clicks are in the stream for the three answered redirects; two of them count.
    assert store.click_stream_length() == 3
    assert store.counts_pending_many([plain.short_code, other.short_code]) == {
        plain.short_code: 1, other.short_code: 1}
