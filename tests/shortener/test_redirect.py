"""GET/HEAD/POST /<code> through Django: redirects, 404, 410, passwords, max_clicks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shortener import store
from shortener.models import Click, Link, LinkState

pytestmark = pytest.mark.django_db
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def test_redirects_with_302_and_location(client, make_link):
    link = make_link(long_url="https://example.com/target?x=1")
    response = client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/target?x=1"


def test_permanent_links_redirect_with_301(client, make_link):
    link = make_link(redirect_type=301)
    response = client.get(f"/{link.short_code}")
    assert response.status_code == 301
    assert response["Location"] == link.long_url


def test_unknown_code_is_the_404_page(client):
    response = client.get("/nosuchcode")
    assert response.status_code == 404
    assert b"<html" in response.content


def test_expired_link_is_410_page_and_json_for_json_clients(client, make_link):
    link = make_link()
    Link.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    store.cache_invalidate(link.short_code)
    page = client.get(f"/{link.short_code}")
    assert page.status_code == 410
    assert b"expired" in page.content
    api = client.get(f"/{link.short_code}", HTTP_ACCEPT="application/json")
    assert api.status_code == 410
    assert api.json()["error"] == "Link expired or deleted"


def test_expired_is_410_from_the_first_second_even_with_a_warm_cache(client, make_link):
    link = make_link()
    assert client.get(f"/{link.short_code}").status_code == 302  # cache now holds the entry
    # The row changes behind the cache's back (no invalidation): the handler still compares the clock.
    moment = timezone.now() - timedelta(milliseconds=1)
    Link.objects.filter(pk=link.pk).update(expires_at=moment)
    entry = store.cache_get(link.short_code)
    assert entry.state == LinkState.ACTIVE
    key = store.link_cache_key(link.short_code)
    store.get_redis().hset(key, "x", repr(moment.timestamp()))
    assert client.get(f"/{link.short_code}").status_code == 410


def test_deleted_link_is_410_afterwards(auth_client, make_link, client):
    link = make_link(owner=auth_client.user)
    assert client.get(f"/{link.short_code}").status_code == 302
    assert auth_client.delete(f"/api/v1/links/{link.short_code}").status_code == 204
    assert client.get(f"/{link.short_code}").status_code == 410
    assert client.get(f"/{link.short_code}", HTTP_ACCEPT="application/json").json() == {
        "error": "Link expired or deleted", "code": "link_gone"}


def test_head_answers_the_same_without_counting(client, make_link, drain_clicks):
    link = make_link()
    response = client.head(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 302
    assert response["Location"] == link.long_url
    assert store.counts_pending(link.short_code) == 0
    drain_clicks()
    link.refresh_from_db()
    assert link.click_count == 0
    click = Click.objects.get(link=link)
    assert click.is_bot


def test_get_counts_one_click(client, make_link, drain_clicks):
    link = make_link()
    client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA, HTTP_REFERER="https://news.example/item")
    assert store.counts_pending(link.short_code) == 1
    drain_clicks()
    link.refresh_from_db()
    assert link.click_count == 1
    click = Click.objects.get(link=link)
    assert (click.is_bot, click.referrer_host, click.browser, click.device) == (False, "news.example", "Chrome",
                                                                               "desktop")


def test_password_link_shows_a_form_then_redirects(client, make_link):
    link = make_link(password="open sesame")
    form = client.get(f"/{link.short_code}")
    assert form.status_code == 200
    assert b'name="password"' in form.content
    wrong = client.post(f"/{link.short_code}", {"password": "nope"})
    assert wrong.status_code == 403
    assert b"not right" in wrong.content
    right = client.post(f"/{link.short_code}", {"password": "open sesame"})
    assert right.status_code == 302
    assert right["Location"] == link.long_url


def test_password_attempts_are_rate_limited(client, make_link):
    link = make_link(password="secret")
    statuses = [client.post(f"/{link.short_code}", {"password": f"guess{i}"}).status_code for i in range(12)]
    assert statuses[:10] == [403] * 10
    assert statuses[-1] == 429


def test_password_link_answers_json_clients_with_json_errors(client, make_link):
    link = make_link(password="secret")
    json_accept = {"HTTP_ACCEPT": "application/json"}

    asked = client.get(f"/{link.short_code}", **json_accept)
    wrong = [client.post(f"/{link.short_code}", {"password": f"guess{i}"}, **json_accept) for i in range(11)]

    assert (asked.status_code, asked.json()["code"]) == (401, "password_required")
    assert (wrong[0].status_code, wrong[0].json()["code"]) == (403, "password_wrong")
    assert (wrong[-1].status_code, wrong[-1].json()["code"]) == (429, "rate_limited")
    assert int(wrong[-1]["Retry-After"]) >= 1


def test_client_ip_trusts_forwarded_for_only_from_configured_proxies(settings):
    from core.ratelimit import trusted_client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.1"]

    assert trusted_client_ip("10.0.0.1", "203.0.113.9, 10.0.0.1") == "203.0.113.9"
    assert trusted_client_ip("198.51.100.7", "203.0.113.9") == "198.51.100.7"
    assert trusted_client_ip("", None) == "unknown"


def test_max_clicks_serves_exactly_the_limit_then_410(client, make_link):
    link = make_link(max_clicks=2)
    statuses = [client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA).status_code for _ in range(4)]
    assert statuses == [302, 302, 410, 410]
    link.refresh_from_db()
    assert link.state == LinkState.EXHAUSTED
    assert link.served_count == 2


def test_reserved_single_segment_paths_are_not_looked_up(client):
    response = client.get("/links")
    assert response.status_code == 301
    assert response["Location"] == "/links/"
    assert client.get("/metrics-nope").status_code == 404
    assert store.cache_get("links") is None


def test_head_on_a_password_link_shows_the_form_not_the_target(client, make_link):
    link = make_link(password="pw")
    response = client.head(f"/{link.short_code}")
    assert response.status_code == 200
    assert "Location" not in response


def test_head_does_not_spend_a_click_budget(client, make_link):
    link = make_link(max_clicks=1)
    assert client.head(f"/{link.short_code}").status_code == 302
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA).status_code == 302
    assert client.head(f"/{link.short_code}").status_code == 410
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA).status_code == 410


def _rule_cases():
    import itertools

    now = 1_900_000_000.0
    states = [state.value for state in LinkState]
    expiries = [None, now + 60, now - 1, now]  # never, later, past, this very instant
    for state, expires_at, has_password, max_clicks in itertools.product(states, expiries, [False, True], [None, 1]):
        yield now, store.CachedLink(long_url="https://example.com/rule", redirect_type=302, expires_at=expires_at,
                                    state=state, has_password=has_password, max_clicks=max_clicks)


def test_the_hot_path_lua_and_the_python_rule_agree_on_every_case(monkeypatch):
    """``answers_directly`` is the rule; the store's Lua must answer exactly those links itself."""
    import asyncio

    from shortener.redirect.service import answers_directly

    cases = list(_rule_cases())
    assert len(cases) == 64
    client = store.get_redis()
    for index, (_, entry) in enumerate(cases):
        client.hset(store.link_cache_key(f"rule-{index}"), mapping=entry.to_fields())
    now = cases[0][0]
    monkeypatch.setattr(store.time, "time", lambda: now)

    async def ask_all():
        return await asyncio.gather(*(
            store.aredirect(f"rule-{index}", referrer="", ip="1.2.3.4", user_agent="x", method="GET", count=False)
            for index in range(len(cases))
        ))

    outcomes = asyncio.run(ask_all())
    for (case_now, entry), outcome in zip(cases, outcomes, strict=True):
        expected = "ok" if answers_directly(entry, case_now) else "django"
        assert outcome.kind == expected, entry
    assert sum(outcome.kind == "ok" for outcome in outcomes) == 2  # active, no limit/password, expiry none or later


def test_one_batch_records_every_plain_link_once_and_counts_each_link_once_per_click():
    import asyncio

    client = store.get_redis()
    plain = store.CachedLink(long_url="https://example.com/a", redirect_type=302, expires_at=None, state="active",
                             has_password=False, max_clicks=None)
    for code in ("batch-a", "batch-b"):
        client.hset(store.link_cache_key(code), mapping=plain.to_fields())
    client.hset(store.link_cache_key("batch-odd"), mapping={**plain.to_fields(), "x": "not-a-time"})
    visits = [("batch-a", True), ("batch-b", True), ("batch-a", True), ("batch-a", False), ("batch-odd", True)]

    async def one_pass():  # gathered in one pass of the loop: one script call
        return await asyncio.gather(*(
            store.aredirect(code, referrer="", ip="1.2.3.4", user_agent="x", method="GET", count=count)
            for code, count in visits
        ))

    outcomes = asyncio.run(one_pass())
    assert [outcome.kind for outcome in outcomes] == ["ok", "ok", "ok", "ok", "django"]  # odd expiry: Django's call
    assert store.click_stream_length() == 4
    assert (store.counts_pending("batch-a"), store.counts_pending("batch-b"), store.counts_pending("batch-odd")) == (
        2, 1, 0)


def test_bots_and_previewers_never_spend_max_clicks(client, make_link):
    link = make_link(max_clicks=1)
    slackbot = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT=slackbot).status_code == 302
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT="").status_code == 302  # no agent: a script
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA).status_code == 302
    assert client.get(f"/{link.short_code}", HTTP_USER_AGENT=BROWSER_UA).status_code == 410
    link.refresh_from_db()
    assert link.served_count == 1


def test_with_redis_down_password_links_ask_to_retry_instead_of_guessing_unlimited(client, make_link,
                                                                                   redis_unreachable):
    link = make_link(password="open-sesame-42")
    go_down, _ = redis_unreachable
    go_down()
    assert client.get(f"/{link.short_code}").status_code == 200  # the form, read from the database
    page = client.post(f"/{link.short_code}", {"password": "open-sesame-42"})
    assert page.status_code == 503 and int(page["Retry-After"]) >= 1
    assert b"Try again shortly" in page.content
    api = client.post(f"/{link.short_code}", {"password": "guess"}, HTTP_ACCEPT="application/json")
    assert api.status_code == 503 and api.json()["code"] == "unavailable"
