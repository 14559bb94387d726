"""Every redirect's click is stored and counted exactly once, even when Redis fails mid-call."""

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


async def test_a_lost_reply_retried_by_django_through_redis_is_one_click(link, monkeypatch, drain_clicks):
    await asgi_request(f"/{link.short_code}", method="HEAD")  # fills the cache (a bot visit, not counted)
    lost = lose_the_first_redirect_reply(monkeypatch)

    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])

    assert lost, "the script did run"
    assert status == 302 and headers[b"location"] == b"https://example.com/once"
    assert _django_answered(headers)
    assert store.counts_pending(link.short_code) == 1
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
