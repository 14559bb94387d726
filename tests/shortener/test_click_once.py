"""Every redirect's click is stored and counted exactly once, even when Redis fails mid-call."""

import threading

import pytest
from asgiref.sync import sync_to_async

from core import hotredis
from shortener import store
from shortener.models import Click, Link
from tests.shortener.test_fastpath import BROWSER_UA, _django_answered, asgi_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def link(make_link):
    return make_link(long_url="https://example.com/once")


def lose_the_first_redirect_reply(monkeypatch, then=None):
    """The redirect script runs in Redis, then the connection drops before its reply is read."""
    real_eval = hotredis.PipelinedConnection.eval
    lost = []

    async def eval_then_fail(self, script, numkeys, *keys_and_args):
        reply = await real_eval(self, script, numkeys, *keys_and_args)
        if script == store._REDIRECT_LUA and not lost:
            lost.append(reply)
            if then is not None:
                then()
            raise ConnectionError("Redis connection lost")
        return reply

    monkeypatch.setattr(hotredis.PipelinedConnection, "eval", eval_then_fail)
    return lost


async def counted(link) -> tuple[int, int]:
    rows = await Click.objects.filter(link=link).acount()
    return rows, (await Link.objects.aget(pk=link.pk)).click_count


async def test_a_lost_reply_is_retried_by_django_in_the_database_not_in_redis_and_is_one_click(
        link, monkeypatch, drain_clicks):
    await asgi_request(f"/{link.short_code}", method="HEAD")  # fills the cache (a bot visit, not counted)
    lost = lose_the_first_redirect_reply(monkeypatch)

    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])

    assert lost, "the script did run"
    assert status == 302 and headers[b"location"] == b"https://example.com/once"
    assert _django_answered(headers)
    assert store.click_stream_length() == 2  # the HEAD and the hot attempt: Django added no entry
    assert store.counts_pending(link.short_code) == 1
    assert await counted(link) == (1, 1)  # Django's retry, written straight to the database
    await sync_to_async(drain_clicks)()
    assert await counted(link) == (2, 1)  # the HEAD and the one visit


async def test_a_lost_reply_retried_by_django_while_redis_is_down_is_one_click(
        link, monkeypatch, redis_unreachable, drain_clicks):
    go_down, come_back = redis_unreachable
    await asgi_request(f"/{link.short_code}", method="HEAD")
    lose_the_first_redirect_reply(monkeypatch, then=go_down)

    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])

    assert status == 302 and _django_answered(headers)
    assert await counted(link) == (1, 1)  # written straight to the database
    come_back()
    await sync_to_async(drain_clicks)()  # the stream entry of the same visit arrives later
    assert await counted(link) == (2, 1)
    assert await Click.objects.filter(link=link, is_bot=False).acount() == 1


# --- the guards underneath ---------------------------------------------------------------------

def _visit(**overrides) -> dict:
    return {"referrer": "", "ip": "198.51.100.7", "user_agent": BROWSER_UA.decode(), "method": "GET", "count": True,
            **overrides}


async def test_a_request_the_hot_path_recorded_nothing_for_is_recorded_by_django_through_redis(make_link):
    limited = await sync_to_async(make_link)(long_url="https://example.com/limited", max_clicks=5)
    await asgi_request(f"/{limited.short_code}", method="HEAD")  # fills the cache

    status, headers, _ = await asgi_request(f"/{limited.short_code}", headers=[(b"user-agent", BROWSER_UA)])

    assert status == 302 and _django_answered(headers)  # a click budget: the hot path leaves it to Django
    assert store.click_stream_length() == 2  # the HEAD and this visit, both through Redis
    assert store.counts_pending(limited.short_code) == 1
    assert await Click.objects.filter(link=limited).acount() == 0  # nothing written around the stream


async def test_recording_a_click_leaves_no_key_per_visit_in_redis(link, clean_redis):
    for _ in range(5):
        status, _, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
        assert status == 302
    keys = {key.decode() for key in clean_redis.keys("shortener:*")}
    assert keys == {store.link_cache_key(link.short_code), store.CLICK_STREAM_KEY, store.CLICK_COUNTS_KEY}
    assert store.click_stream_length() == 5 and store.counts_pending(link.short_code) == 5


def test_a_visit_written_to_the_database_twice_is_one_row_counted_once(link):
    from core.snowflake import next_id
    from shortener.redirect.service import click_record_in_database

    visit_id = next_id()
    assert click_record_in_database(link.short_code, visit_id=visit_id, **_visit()) is True
    assert click_record_in_database(link.short_code, visit_id=visit_id, **_visit()) is False
    assert Click.objects.filter(link=link, visit_id=visit_id).count() == 1
    assert Link.objects.get(pk=link.pk).click_count == 1


def test_a_visit_the_consumer_stored_first_is_not_counted_again_by_the_database_path(link, drain_clicks):
    from core.snowflake import next_id
    from shortener.redirect.service import click_record_in_database

    visit_id = next_id()
    store.click_record(link.short_code, visit_id=visit_id, **_visit())
    drain_clicks()
    assert click_record_in_database(link.short_code, visit_id=visit_id, **_visit()) is False
    assert Click.objects.filter(link=link).count() == 1
    assert Link.objects.get(pk=link.pk).click_count == 1


def test_a_stream_entry_retried_after_taking_its_count_back_takes_nothing_more(link):
    from core.snowflake import next_id
    from shortener.redirect.service import click_record_in_database
    from shortener.services.clicks import click_counts_flush, clicks_store

    visit_id = next_id()
    store.click_record(link.short_code, visit_id=visit_id, **_visit())  # the reply was lost
    click_record_in_database(link.short_code, visit_id=visit_id, **_visit())  # Django's retry, Redis away
    entries = store.click_read_new("c1", 10)
    first = clicks_store(entries, fresh=True)
    again = clicks_store(entries)  # the consumer died before XACK: the same entry once more
    assert (first.inserted, first.duplicates, again.inserted, again.duplicates) == (0, 1, 0, 1)
    click_counts_flush()
    assert Click.objects.filter(link=link).count() == 1
    assert Link.objects.get(pk=link.pk).click_count == 1


def test_a_bot_visit_retried_through_the_database_takes_no_count_back(link, drain_clicks):
    from core.snowflake import next_id
    from shortener.redirect.service import click_record_in_database

    visit_id = next_id()
    bot = _visit(user_agent="Googlebot/2.1", count=False)
    store.click_record(link.short_code, visit_id=visit_id, **bot)
    click_record_in_database(link.short_code, visit_id=visit_id, **bot)
    drain_clicks()
    assert Click.objects.filter(link=link).count() == 1
    assert Link.objects.get(pk=link.pk).click_count == 0


def test_concurrent_attempts_of_the_same_visits_through_redis_and_the_database_count_each_once(link, drain_clicks):
    from django.db import connection

    from core.snowflake import next_id
    from shortener.redirect.service import click_record_in_database
    from shortener.services.clicks import clicks_consume

    visits = [next_id() for _ in range(60)]
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def through_redis():
        for visit_id in visits:
            store.click_record(link.short_code, visit_id=visit_id, **_visit())

    def to_the_database():
        for visit_id in visits:
            click_record_in_database(link.short_code, visit_id=visit_id, **_visit())

    def consumer():
        for _ in range(20):
            clicks_consume(consumer="racing", batch_size=10)

    threads = [threading.Thread(target=run, args=(job,)) for job in (through_redis, to_the_database, consumer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    drain_clicks()
    assert Click.objects.filter(link=link).count() == 60
    assert sorted(Click.objects.filter(link=link).values_list("visit_id", flat=True)) == sorted(visits)
    assert Link.objects.get(pk=link.pk).click_count == 60
