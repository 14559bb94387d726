"""The hot path, driven through the real ASGI application with raw ASGI messages."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from config.asgi import application
from shortener import store
from shortener.models import Click

pytestmark = pytest.mark.django_db(transaction=True)
BROWSER_UA = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"


async def asgi_request(path: str, *, method: str = "GET", headers: list | None = None, query: bytes = b""):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("203.0.113.9", 50000), "server": ("testserver", 80),
    }
    sent = []
    requested = False
    finished = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.lower(): v for k, v in start["headers"]}, body


@pytest.fixture
def link(make_link):
    return make_link(long_url="https://example.com/hot")


def _django_answered(headers: dict) -> bool:
    # Django's middleware stack always adds these; the hot path never does.
    return b"x-frame-options" in headers


async def test_a_miss_falls_through_to_django_then_the_hot_path_answers(link):
    store.cache_invalidate(link.short_code)
    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
    assert status == 302
    assert headers[b"location"] == b"https://example.com/hot"
    assert _django_answered(headers)
    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
    assert status == 302
    assert headers[b"location"] == b"https://example.com/hot"
    assert not _django_answered(headers)
    assert store.counts_pending(link.short_code) == 2
    assert store.click_stream_length() == 2


async def test_head_on_the_hot_path_records_a_bot_click_and_counts_nothing(link, drain_clicks):
    await asgi_request(f"/{link.short_code}", method="HEAD")  # fills the cache
    status, headers, body = await asgi_request(f"/{link.short_code}", method="HEAD",
                                               headers=[(b"user-agent", BROWSER_UA)])
    assert (status, body) == (302, b"")
    assert not _django_answered(headers)
    assert store.counts_pending(link.short_code) == 0
    await sync_to_async(drain_clicks)()
    clicks = await sync_to_async(list)(Click.objects.filter(link=link).values_list("is_bot", flat=True))
    assert clicks == [True, True]


async def test_json_clients_unknown_codes_and_passwords_go_to_django(make_link):
    protected = await sync_to_async(make_link)(password="pw")
    status, headers, _ = await asgi_request(f"/{protected.short_code}")
    assert status == 200 and _django_answered(headers)
    status, headers, _ = await asgi_request(f"/{protected.short_code}")
    assert status == 200 and _django_answered(headers)  # cached, but a password link is never hot-pathed

    status, headers, _ = await asgi_request("/unknown-code")
    assert status == 404 and _django_answered(headers)
    status, headers, _ = await asgi_request("/unknown-code")
    assert status == 404 and _django_answered(headers)


async def test_expired_link_in_cache_is_410_through_django(link):
    await asgi_request(f"/{link.short_code}")
    store.get_redis().hset(store.link_cache_key(link.short_code), "x", "1000")
    status, headers, body = await asgi_request(f"/{link.short_code}", headers=[(b"accept", b"application/json")])
    assert status == 410
    assert b"Link expired or deleted" in body


async def test_bots_are_redirected_but_not_counted(link):
    await asgi_request(f"/{link.short_code}")
    before = store.counts_pending(link.short_code)
    status, _, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", b"Slackbot-LinkExpanding 1.0")])
    assert status == 302
    assert store.counts_pending(link.short_code) == before


async def test_paths_that_are_not_a_code_are_left_to_django():
    status, headers, _ = await asgi_request("/healthz")
    assert _django_answered(headers) or status == 200
    status, headers, _ = await asgi_request("/links")
    assert status == 301 and headers[b"location"] == b"/links/"
