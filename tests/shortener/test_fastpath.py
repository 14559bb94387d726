"""The hot path, driven through the real ASGI application with raw ASGI messages."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from config.asgi import application
from shortener import store
from shortener.models import Click, Link
from tests.fixtures.asgi import asgi_call, http_scope

pytestmark = pytest.mark.django_db(transaction=True)
BROWSER_UA = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"


async def asgi_request(path: str, *, method: str = "GET", headers: list | None = None, query: bytes = b"",
                       client: tuple = ("203.0.113.9", 50000)):
    scope = http_scope(path, method=method, headers=headers, query=query, client=client)
    _, status, response_headers, body = await asgi_call(application, scope)
    return status, response_headers, body


@pytest.fixture
def link(make_link):
    return make_link(long_url="https://example.com/hot")


def _django_answered(headers: dict) -> bool:
    # Django's middleware stack always adds these; the hot path never does.
    return b"x-frame-options" in headers


async def test_a_miss_is_filled_and_answered_on_the_hot_path(link):
    store.cache_invalidate(link.short_code)
    for _ in range(2):
        status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
        assert status == 302
        assert headers[b"location"] == b"https://example.com/hot"
        assert not _django_answered(headers)
    assert store.cache_get(link.short_code).long_url == "https://example.com/hot"
    assert store.counts_pending(link.short_code) == 2
    assert store.click_stream_length() == 2


async def test_a_miss_on_an_expired_link_is_filled_then_answered_410_by_django(link):
    await Link.objects.filter(pk=link.pk).aupdate(expires_at=link.created_at)
    store.cache_invalidate(link.short_code)
    status, headers, body = await asgi_request(f"/{link.short_code}", headers=[(b"accept", b"text/html")])
    assert status == 410 and _django_answered(headers)
    assert store.cache_get(link.short_code) is not None
    assert store.click_stream_length() == 0


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


async def test_passwords_and_json_clients_go_to_django(make_link):
    protected = await sync_to_async(make_link)(password="pw")
    status, headers, _ = await asgi_request(f"/{protected.short_code}")
    assert status == 200 and _django_answered(headers)
    status, headers, _ = await asgi_request(f"/{protected.short_code}")
    assert status == 200 and _django_answered(headers)  # cached, but a password link is never hot-pathed

    for _ in range(2):
        status, headers, body = await asgi_request("/unknown-code", headers=[(b"accept", b"application/json")])
        assert status == 404 and _django_answered(headers)
        assert json.loads(body)["code"] == "not_found"


async def test_unknown_codes_get_djangos_anonymous_404_page_from_the_hot_path():
    from django.test import Client

    django_page = await sync_to_async(Client().get)("/unknown-code", HTTP_ACCEPT="text/html")
    assert django_page.status_code == 404
    for _ in range(2):  # the first fills the negative cache, the second is answered from it
        status, headers, body = await asgi_request("/unknown-code", headers=[(b"accept", b"text/html")])
        assert status == 404 and not _django_answered(headers)
        assert headers[b"content-type"] == b"text/html; charset=utf-8"
        assert body == django_page.content
    assert store.cache_get("unknown-code") is store.MISSING
    assert store.click_stream_length() == 0


async def test_the_hot_404_page_never_shows_who_is_signed_in(make_user):
    from django.test import Client

    user = await sync_to_async(make_user)("carol-signed-in")
    client = Client()
    await sync_to_async(client.force_login)(user)
    signed_in_page = await sync_to_async(client.get)("/unknown-code")
    assert b"carol-signed-in" in signed_in_page.content  # Django's own page knows the visitor
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    status, headers, body = await asgi_request("/unknown-code", headers=[(b"cookie", cookie)])
    assert status == 404 and not _django_answered(headers)
    assert b"carol-signed-in" not in body and b"Log in" in body


async def test_unknown_codes_are_limited_per_client_ip(monkeypatch):
    from core.ratelimit import RateLimit
    from shortener.redirect import hot, service

    tight = RateLimit("shortener-unknown-code", limit=3, period=60)
    monkeypatch.setattr(hot, "UNKNOWN_CODES", tight)
    monkeypatch.setattr(service, "UNKNOWN_CODES", tight)
    statuses = [(await asgi_request(f"/nope-{i}"))[0] for i in range(4)]
    assert statuses == [404, 404, 404, 429]
    status, headers, body = await asgi_request("/nope-9")
    assert status == 429 and int(headers[b"retry-after"]) >= 1 and not _django_answered(headers)
    status, headers, body = await asgi_request("/nope-10", headers=[(b"accept", b"application/json")])
    assert status == 429 and _django_answered(headers)  # Django's side applies the same limit
    assert json.loads(body)["code"] == "rate_limited" and int(headers[b"retry-after"]) >= 1
    status, _, _ = await asgi_request("/nope-11", client=("198.51.100.20", 5000))
    assert status == 404  # another client has its own budget


async def test_a_link_previewer_does_not_spend_the_only_click(make_link):
    once = await sync_to_async(make_link)(long_url="https://example.com/once", max_clicks=1)
    slackbot = (b"user-agent", b"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
    for method in ("GET", "HEAD"):
        status, headers, _ = await asgi_request(f"/{once.short_code}", method=method, headers=[slackbot])
        assert status == 302 and headers[b"location"] == b"https://example.com/once"
    status, headers, _ = await asgi_request(f"/{once.short_code}", headers=[(b"user-agent", BROWSER_UA)])
    assert status == 302 and headers[b"location"] == b"https://example.com/once"
    status, _, _ = await asgi_request(f"/{once.short_code}", headers=[(b"user-agent", BROWSER_UA)])
    assert status == 410
    assert (await Link.objects.aget(pk=once.pk)).served_count == 1


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


async def test_a_non_ascii_target_gets_the_same_location_from_the_hot_path_as_from_django(make_link):
    from django.test import Client

    link = await sync_to_async(make_link)(long_url="https://example.com/ünïcode/päth?q=é")
    django_answer = await sync_to_async(Client().get)(f"/{link.short_code}", HTTP_ACCEPT="application/json")
    for _ in range(2):  # the second is served from the per-target headers made by the first
        status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
        assert status == 302 and not _django_answered(headers)
        assert headers[b"location"].decode() == django_answer["Location"]
        assert headers[b"cache-control"] == b"no-store"


@pytest.mark.parametrize(("trusted", "recorded_ip"), [("203.0.113.9", "198.51.100.77"), ("", "203.0.113.9")])
async def test_the_hot_path_takes_the_forwarded_address_only_from_a_trusted_proxy(
        link, settings, trusted, recorded_ip):
    settings.TRUSTED_PROXIES = [trusted] if trusted else []
    await asgi_request(f"/{link.short_code}", method="HEAD")  # fills the cache
    store.get_redis().delete(store.CLICK_STREAM_KEY)
    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[
        (b"user-agent", BROWSER_UA), (b"x-forwarded-for", b"198.51.100.77, 10.0.0.1")])
    assert status == 302 and not _django_answered(headers)
    [(_, fields)] = store.get_redis().xrange(store.CLICK_STREAM_KEY)
    assert fields[b"i"].decode() == recorded_ip


async def test_paths_that_are_not_a_code_are_left_to_django():
    status, headers, _ = await asgi_request("/healthz")
    assert _django_answered(headers) or status == 200
    status, headers, _ = await asgi_request("/links")
    assert status == 301 and headers[b"location"] == b"/links/"


async def asgi_post(path: str, body: bytes, headers: list):
    scope_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    scope = http_scope(path, method="POST", headers=scope_headers)
    _, status, response_headers, response_body = await asgi_call(application, scope, body)
    return status, response_headers, json.loads(response_body or b"null")


@pytest.fixture
def token_header(make_user):
    from core.services import token_for

    def make(name="tokenuser"):
        user = make_user(name)
        return user, [(b"authorization", f"Token {token_for(user).key}".encode())]

    return make


async def test_token_shorten_is_answered_by_the_hot_path_with_the_same_contract(token_header):
    user, auth = await sync_to_async(token_header)()
    status, headers, body = await asgi_post(
        "/api/v1/shorten", json.dumps({"long_url": "https://example.com/fast", "tags": ["a"]}).encode(), auth)
    assert status == 201
    assert not _django_answered(headers)
    assert set(body) == {"short_code", "short_url", "long_url", "created_at", "expires_at", "redirect_type"}
    link = await Link.objects.select_related("owner").aget(short_code=body["short_code"])
    assert link.owner_id == user.pk and link.tag_list == ["a"]


async def test_hot_shorten_errors_match_the_api(token_header, make_link):
    _, auth = await sync_to_async(token_header)()
    await sync_to_async(make_link)(custom_alias="hot-taken")
    status, _, body = await asgi_post("/api/v1/shorten",
                                      b'{"long_url": "https://example.com", "custom_alias": "hot-taken"}', auth)
    assert status == 409 and body["code"] == "alias_taken" and len(body["suggested"]) == 3
    status, _, body = await asgi_post("/api/v1/shorten", b'{"long_url": "ftp://x.example"}', auth)
    assert status == 400 and "long_url" in body["fields"]
    status, _, body = await asgi_post("/api/v1/shorten", b'{"long_url": "https://x.example", "expires_in_days": "9"}',
                                      auth)
    assert status == 400 and "expires_in_days" in body["fields"]
    status, _, body = await asgi_post("/api/v1/shorten", b"[1, 2]", auth)
    assert status == 400 and body["fields"]
    status, _, body = await asgi_post("/api/v1/shorten", b"{nope", auth)
    assert status == 400 and body["code"] == "parse_error"
    status, headers, body = await asgi_post("/api/v1/shorten", b'{"long_url": "https://x.example"}',
                                            [(b"authorization", b"Token not-a-real-token")])
    assert status == 401 and body["code"] == "authentication_failed"


async def test_anonymous_shorten_still_goes_through_django_and_its_rate_limit():
    status, headers, body = await asgi_post("/api/v1/shorten", b'{"long_url": "https://example.com/anon"}', [])
    assert status == 201, body
    assert _django_answered(headers)


async def test_concurrent_hot_creations_share_commits_and_one_alias_is_claimed_once(token_header):
    _, auth = await sync_to_async(token_header)()
    bodies = [json.dumps({"long_url": f"https://example.com/{i}"}).encode() for i in range(30)]
    bodies += [b'{"long_url": "https://example.com/a", "custom_alias": "one-winner"}'] * 3
    results = await asyncio.gather(*(asgi_post("/api/v1/shorten", body, auth) for body in bodies))
    statuses = [status for status, _, _ in results]
    assert statuses[:30] == [201] * 30
    assert sorted(statuses[30:]) == [201, 409, 409]
    assert await Link.objects.filter(short_code="one-winner").acount() == 1
    codes = {body["short_code"] for status, _, body in results if status == 201}
    assert len(codes) == 31


async def test_concurrent_hot_redirects_each_get_their_own_link_and_click(make_link):
    first = await sync_to_async(make_link)(long_url="https://example.com/first")
    second = await sync_to_async(make_link)(long_url="https://example.com/second", redirect_type=301)
    for code in (first.short_code, second.short_code):
        await asgi_request(f"/{code}")  # through Django: fills the cache (no user agent: a bot, not counted)
    codes = [first.short_code, second.short_code] * 10
    answers = await asyncio.gather(*(asgi_request(f"/{code}", headers=[(b"user-agent", BROWSER_UA)])
                                     for code in codes))
    assert [(status, headers[b"location"]) for status, headers, _ in answers] == [
        (302, b"https://example.com/first"), (301, b"https://example.com/second")] * 10
    assert not any(_django_answered(headers) for _, headers, _ in answers)
    assert store.counts_pending(first.short_code) == 10
    assert store.counts_pending(second.short_code) == 10
    assert store.click_stream_length() == 22


async def test_hot_shorten_accepts_a_bearer_token(make_user):
    from core.services import token_for

    user = await sync_to_async(make_user)("bearer-user")
    key = (await sync_to_async(token_for)(user)).key
    status, headers, body = await asgi_post("/api/v1/shorten", b'{"long_url": "https://example.com/bearer"}',
                                            [(b"authorization", f"Bearer {key}".encode())])
    assert status == 201 and not _django_answered(headers)
    assert (await Link.objects.aget(short_code=body["short_code"])).owner_id == user.pk


async def test_hot_shorten_with_a_revoked_token_is_401(token_header):
    from rest_framework.authtoken.models import Token

    from core.tokens import token_invalidate

    user, auth = await sync_to_async(token_header)()
    status, _, _ = await asgi_post("/api/v1/shorten", b'{"long_url": "https://example.com/1"}', auth)
    assert status == 201
    key = auth[0][1].decode().split()[1]
    await Token.objects.filter(key=key).adelete()
    await sync_to_async(token_invalidate)(key)
    status, headers, body = await asgi_post("/api/v1/shorten", b'{"long_url": "https://example.com/2"}', auth)
    assert status == 401 and body["code"] == "authentication_failed"
    assert headers[b"www-authenticate"] == b"Token"


async def test_hot_shorten_answers_deeply_nested_json_with_a_400_naming_the_body(token_header):
    _, auth = await sync_to_async(token_header)()
    started = asyncio.get_running_loop().time()
    status, headers, body = await asyncio.wait_for(
        asgi_post("/api/v1/shorten", b"[" * 5000 + b"]" * 5000, auth), timeout=5)
    assert asyncio.get_running_loop().time() - started < 1
    assert status == 400 and not _django_answered(headers)
    assert body["code"] == "parse_error" and "body" in body["fields"]


async def test_a_redis_that_never_answers_hands_the_redirect_to_django_within_a_second(link, settings):
    connections = []

    async def accept_and_say_nothing(reader, writer):
        connections.append(writer)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"  # the hot-path client of this event loop only
    try:
        for _ in range(2):
            started = asyncio.get_running_loop().time()
            status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
            assert asyncio.get_running_loop().time() - started < 1.5
            assert status == 302 and headers[b"location"] == b"https://example.com/hot"
            assert _django_answered(headers)
        assert connections  # the hot path did try the silent server
    finally:
        for writer in connections:
            writer.close()
        server.close()


async def test_with_redis_down_redirects_come_from_the_database_and_clicks_are_not_lost(
        link, redis_unreachable, drain_clicks):
    go_down, come_back = redis_unreachable
    await asgi_request(f"/{link.short_code}")  # cached while Redis is up
    go_down()
    for _ in range(2):
        status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
        assert status == 302 and headers[b"location"] == b"https://example.com/hot"
        assert _django_answered(headers)
    status, _, _ = await asgi_request(f"/{link.short_code}", method="HEAD")
    assert status == 302
    clicks = await sync_to_async(list)(Click.objects.filter(link=link).order_by("id").values_list("is_bot", flat=True))
    assert clicks == [False, False, True]
    assert (await Link.objects.aget(pk=link.pk)).click_count == 2

    come_back()
    status, headers, _ = await asgi_request(f"/{link.short_code}", headers=[(b"user-agent", BROWSER_UA)])
    assert status == 302 and not _django_answered(headers)  # the cache path is back by itself
    await sync_to_async(drain_clicks)()
    # The first (bot) visit went through Redis; the Redis-less ones are not counted a second time.
    assert await Click.objects.filter(link=link).acount() == 5
    assert (await Link.objects.aget(pk=link.pk)).click_count == 3


async def test_with_redis_down_unknown_codes_are_still_404(redis_unreachable):
    go_down, _ = redis_unreachable
    go_down()
    status, headers, _ = await asgi_request("/unknown-code")
    assert status == 404 and _django_answered(headers)


@pytest.mark.parametrize("body", [
    b"{nope", b'{"long_url": NaN}', b"[1, 2]", b'"just a string"', b"[" * 5000 + b"]" * 5000,
    b'{"long_url": "ftp://x.example"}', b'{"long_url": "https://x.example", "max_clicks": 0}',
])
async def test_hot_path_and_drf_answer_bad_bodies_alike(token_header, body):
    _, auth = await sync_to_async(token_header)()
    hot_status, hot_headers, hot_body = await asgi_post("/api/v1/shorten", body, auth)
    django_status, django_headers, django_body = await asgi_post("/api/v1/shorten", body, [])  # anonymous: DRF
    assert not _django_answered(hot_headers) and _django_answered(django_headers)
    assert hot_status == django_status == 400
    assert hot_body == django_body


async def test_concurrent_first_hits_read_the_database_once(make_link, monkeypatch):
    from shortener import selectors

    link = await sync_to_async(make_link)(long_url="https://example.com/stampede")
    store.cache_invalidate(link.short_code)
    reads = []
    real_read = selectors.link_from_database

    def counting_read(code):
        reads.append(code)
        return real_read(code)

    monkeypatch.setattr(selectors, "link_from_database", counting_read)
    paths = [f"/{link.short_code}"] * 20 + ["/stampede-unknown"] * 20
    answers = await asyncio.gather(*(asgi_request(path, headers=[(b"user-agent", BROWSER_UA)]) for path in paths))
    assert [status for status, _, _ in answers] == [302] * 20 + [404] * 20
    assert not any(_django_answered(headers) for _, headers, _ in answers)
    assert sorted(reads) == sorted([link.short_code, "stampede-unknown"])
    assert store.counts_pending(link.short_code) == 20


async def test_hot_shorten_over_its_rate_limit_sends_retry_after_like_the_api(token_header, settings):
    settings.SHORTENER_CREATE_PER_MINUTE = 2
    _, auth = await sync_to_async(token_header)()
    answers = [await asgi_post("/api/v1/shorten", f'{{"long_url": "https://example.com/{i}"}}'.encode(), auth)
               for i in range(3)]
    assert [status for status, _, _ in answers] == [201, 201, 429]
    _, headers, body = answers[2]
    assert not _django_answered(headers)
    assert body["code"] == "rate_limited" and body["retry_after"] >= 1
    assert int(headers[b"retry-after"]) == body["retry_after"]


@pytest.mark.parametrize("payload", [
    {"long_url": "https://example.com/down", "custom_alias": "made-while-down"},
    {"long_url": "https://example.com/down"},
])
async def test_hot_shorten_with_redis_down_answers_the_apis_503_and_writes_nothing(
        token_header, redis_unreachable, payload):
    go_down, come_back = redis_unreachable
    _, auth = await sync_to_async(token_header)()
    go_down()
    status, headers, body = await asgi_post("/api/v1/shorten", json.dumps(payload).encode(), auth)
    assert status == 503 and not _django_answered(headers)
    assert body == {"error": "A service this site depends on is unavailable; please try again shortly.",
                    "code": "service_unavailable"}  # what Django's outage answer says
    assert int(headers[b"retry-after"]) >= 1
    assert not await Link.objects.filter(long_url="https://example.com/down").aexists()

    come_back()
    status, _, body = await asgi_post("/api/v1/shorten", json.dumps(payload).encode(), auth)
    assert status == 201
    if "custom_alias" in payload:
        assert body["short_code"] == "made-while-down"
