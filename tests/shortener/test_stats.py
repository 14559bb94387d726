"""GET /api/v1/links/{code}/stats: headline numbers, gap-free series, top lists, bots apart."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from shortener import store
from shortener.services.clicks import clicks_store

pytestmark = pytest.mark.django_db
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

_seq = iter(range(1, 10**6))


def click_at(code: str, moment: datetime, *, ua: str = CHROME, ip: str = "8.8.8.8", ref: str = "", method="GET"):
    entry_id = f"{int(moment.timestamp() * 1000)}-{next(_seq)}"
    return entry_id, {"c": code, "a": ua, "i": ip, "r": ref, "m": method, "ts": "0"}


@pytest.fixture
def owned(auth_client, make_link):
    return make_link(owner=auth_client.user)


def test_stats_count_humans_and_bots_apart_with_top_lists(auth_client, owned):
    base = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    clicks_store([
        click_at(owned.short_code, base, ref="https://news.example/a"),
        click_at(owned.short_code, base, ref="https://news.example/b"),
        click_at(owned.short_code, base + timedelta(hours=1), ua=IPHONE, ip="81.2.69.142", ref="https://t.example"),
        click_at(owned.short_code, base + timedelta(days=1), ip="1.1.1.1"),
        click_at(owned.short_code, base, ua=BOT),
        click_at(owned.short_code, base, method="HEAD"),
    ])
    body = auth_client.get(f"/api/v1/links/{owned.short_code}/stats?from=2026-03-10&to=2026-03-11").json()
    assert (body["clicks"], body["bots"]) == (4, 2)
    assert body["unique_visitors"] == 3  # the two Chrome clicks from one address on one day are one visitor
    assert body["referrers"] == [{"name": "news.example", "clicks": 2}, {"name": "direct", "clicks": 1},
                                 {"name": "t.example", "clicks": 1}]
    assert body["devices"] == [{"name": "desktop", "clicks": 3}, {"name": "mobile", "clicks": 1}]
    assert body["browsers"][0] == {"name": "Chrome", "clicks": 3}
    assert {"name": "iOS", "clicks": 1} in body["os"]
    assert body["countries"][0]["clicks"] >= 1
    assert sum(c["clicks"] for c in body["countries"]) == 4


def test_daily_series_has_every_bucket_including_zeros(auth_client, owned):
    base = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    clicks_store([click_at(owned.short_code, base), click_at(owned.short_code, base + timedelta(days=2))])
    body = auth_client.get(
        f"/api/v1/links/{owned.short_code}/stats?from=2026-03-09&to=2026-03-13&granularity=day").json()
    assert [(b["bucket"][:10], b["clicks"], b["unique_visitors"]) for b in body["series"]] == [
        ("2026-03-09", 0, 0), ("2026-03-10", 1, 1), ("2026-03-11", 0, 0), ("2026-03-12", 1, 1), ("2026-03-13", 0, 0)]


def test_hourly_granularity_is_the_default_for_short_ranges(auth_client, owned):
    base = datetime(2026, 3, 10, 5, 15, tzinfo=UTC)
    clicks_store([click_at(owned.short_code, base), click_at(owned.short_code, base + timedelta(minutes=20))])
    body = auth_client.get(f"/api/v1/links/{owned.short_code}/stats"
                           "?from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z").json()
    assert len(body["series"]) == 24
    assert body["series"][5] == {"bucket": "2026-03-10T05:00:00+00:00", "clicks": 2, "unique_visitors": 1}
    assert sum(b["clicks"] for b in body["series"]) == 2


def test_default_range_is_the_last_seven_days_by_day(auth_client, owned):
    clicks_store([click_at(owned.short_code, timezone.now() - timedelta(minutes=5))])
    body = auth_client.get(f"/api/v1/links/{owned.short_code}/stats").json()
    assert len(body["series"]) in (7, 8)
    assert body["clicks"] == 1
    assert body["series"][-1]["clicks"] == 1


def test_clicks_outside_the_range_are_left_out(auth_client, owned):
    clicks_store([click_at(owned.short_code, datetime(2026, 1, 1, tzinfo=UTC))])
    body = auth_client.get(f"/api/v1/links/{owned.short_code}/stats?from=2026-02-01&to=2026-02-02").json()
    assert (body["clicks"], body["unique_visitors"], body["referrers"]) == (0, 0, [])


@pytest.mark.parametrize("query", ["from=yesterday", "to=2026-13-01", "granularity=week",
                                   "from=2026-03-10&to=2026-03-01", "from=2020-01-01&to=2026-01-01"])
def test_bad_stats_parameters_are_400(auth_client, owned, query):
    response = auth_client.get(f"/api/v1/links/{owned.short_code}/stats?{query}")
    assert response.status_code == 400
    assert response.json()["fields"]


def test_redirects_end_up_in_stats_through_the_pipeline(auth_client, owned, client, drain_clicks):
    for _ in range(3):
        client.get(f"/{owned.short_code}", HTTP_USER_AGENT=CHROME)
    client.get(f"/{owned.short_code}", HTTP_USER_AGENT=BOT)
    drain_clicks()
    body = auth_client.get(f"/api/v1/links/{owned.short_code}/stats").json()
    assert (body["clicks"], body["bots"]) == (3, 1)
    detail = auth_client.get(f"/api/v1/links/{owned.short_code}").json()
    assert detail["click_count"] == 3
    assert store.counts_pending(owned.short_code) == 0
