"""/metrics: Prometheus text with per-route request counts, latency histograms and queue depth."""

import re

import pytest

from core.metrics import BUCKETS, recorder

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token"
SCRAPE = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} missing from /metrics"
    return float(match.group(1))


def test_metrics_count_requests_by_route_method_and_status(client):
    recorder.flush()
    before = client.get("/metrics", **SCRAPE).content.decode()
    ok = 'http_requests_total{route="/healthz",method="GET",status="200"}'
    missing = 'http_requests_total{route="/api/v1/auth/me",method="GET",status="401"}'
    start_ok = _value(before, ok) if ok in before else 0
    start_missing = _value(before, missing) if missing in before else 0

    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/auth/me")
    text = client.get("/metrics", **SCRAPE).content.decode()

    assert _value(text, ok) == start_ok + 3
    assert _value(text, missing) == start_missing + 1


def test_metrics_have_a_latency_histogram_per_route(client):
    client.get("/healthz")

    response = client.get("/metrics", **SCRAPE)

    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert "# TYPE http_request_duration_seconds histogram" in text
    buckets = [_value(text, f'http_request_duration_seconds_bucket{{route="/healthz",le="{b}"}}') for b in BUCKETS]
    total = _value(text, 'http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}')
    assert buckets == sorted(buckets)  # cumulative
    assert total >= 1
    assert _value(text, 'http_request_duration_seconds_count{route="/healthz"}') == total
    assert _value(text, 'http_request_duration_seconds_sum{route="/healthz"}') > 0


def test_metrics_report_the_celery_queue_depth(client, clean_redis):
    clean_redis.rpush("celery", "a", "b")

    text = client.get("/metrics", **SCRAPE).content.decode()

    assert _value(text, 'celery_queue_depth{queue="celery"}') == 2


def test_metrics_refuse_a_scrape_without_the_token_even_from_loopback(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "http_requests_total" not in response.content.decode()


@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Token {TOKEN}", TOKEN, "Bearer ", f"Basic {TOKEN}"])
def test_metrics_refuse_a_wrong_token_or_scheme(client, header):
    assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 403


def test_metrics_are_closed_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", **SCRAPE).status_code == 403


def test_metrics_accept_the_bearer_token_prometheus_sends(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")

    assert response.status_code == 200
    assert "# TYPE http_requests_total counter" in response.content.decode()


def test_latency_buckets_count_each_request_at_and_above_its_bound(clean_redis):
    from core.metrics import Recorder
    from core.store import METRICS_LATENCY_KEY, METRICS_REQUESTS_KEY

    own = Recorder()
    for seconds in (0.001, 0.005, 0.3, 11.0):  # 0.005 is on a bound: it counts in that bucket
        own.observe("hot:test", "GET", 302, seconds)
    own.observe("hot:test", "HEAD", 302, 0.002)
    own.flush()
    own.stop()

    latency = {k.decode(): float(v) for k, v in clean_redis.hgetall(METRICS_LATENCY_KEY).items()}
    expected = {0.005: 3, 0.01: 3, 0.025: 3, 0.05: 3, 0.1: 3, 0.25: 3, 0.5: 4, 1.0: 4, 2.5: 4, 5.0: 4, 10.0: 4}
    assert {bound: latency[f"hot:test|{bound}"] for bound in BUCKETS} == expected
    assert latency["hot:test|+Inf"] == 5
    assert latency["hot:test|sum"] == pytest.approx(11.308)
    requests = {k.decode(): int(v) for k, v in clean_redis.hgetall(METRICS_REQUESTS_KEY).items()}
    assert requests == {"hot:test|GET|302": 4, "hot:test|HEAD|302": 1}


def test_counts_kept_while_redis_is_down_are_flushed_once_it_is_back(clean_redis, monkeypatch):
    from core import redis as core_redis
    from core.metrics import Recorder
    from core.store import METRICS_LATENCY_KEY

    own = Recorder()
    own.observe("hot:test", "GET", 302, 0.02)
    real_get_redis = core_redis.get_redis
    monkeypatch.setattr(core_redis, "get_redis", lambda: (_ for _ in ()).throw(ConnectionError("down")))
    own.flush()
    own.observe("hot:test", "GET", 302, 0.2)
    monkeypatch.setattr(core_redis, "get_redis", real_get_redis)
    own.flush()
    own.stop()

    latency = {k.decode(): float(v) for k, v in clean_redis.hgetall(METRICS_LATENCY_KEY).items()}
    assert (latency["hot:test|0.025"], latency["hot:test|0.25"], latency["hot:test|+Inf"]) == (1, 2, 2)
