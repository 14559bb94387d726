"""Token-bucket rate limiting: 429 with Retry-After, exact under concurrency, sync and async."""

import asyncio
import threading

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView, Response

from core.ratelimit import RateLimit, acheck, check, client_ip, enforce

# A period of an hour: refill during a test run is negligible (far below one token).
FIVE_AN_HOUR = RateLimit(scope="test", limit=5, period=3600)


class _LimitedView(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request):
        enforce(FIVE_AN_HOUR, client_ip(request))
        return Response({"ok": True})


def test_a_view_allows_the_limit_then_answers_429_with_retry_after():
    view = _LimitedView.as_view()
    factory = APIRequestFactory()

    statuses = [view(factory.get("/limited", REMOTE_ADDR="10.0.0.1")).status_code for _ in range(5)]
    refused = view(factory.get("/limited", REMOTE_ADDR="10.0.0.1"))

    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.data["code"] == "rate_limited"
    assert int(refused["Retry-After"]) >= 1
    assert refused.data["retry_after"] == int(refused["Retry-After"])


def test_each_identity_has_its_own_bucket():
    for _ in range(5):
        assert check(FIVE_AN_HOUR, "10.0.0.2").allowed

    assert not check(FIVE_AN_HOUR, "10.0.0.2").allowed
    assert check(FIVE_AN_HOUR, "10.0.0.3").allowed


def test_retry_after_is_the_time_until_the_next_token():
    rule = RateLimit(scope="test-retry", limit=2, period=60)  # one token per 30 s
    check(rule, "id")
    check(rule, "id")

    decision = check(rule, "id")

    assert not decision.allowed
    assert 25 <= decision.retry_after <= 30


def test_concurrent_callers_never_get_more_than_the_limit():
    allowed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def hit():
        barrier.wait()
        for _ in range(3):
            result = check(FIVE_AN_HOUR, "shared").allowed
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 60
    assert allowed.count(True) == 5


async def test_acheck_limits_async_callers_the_same_way():
    decisions = await asyncio.gather(*(acheck(FIVE_AN_HOUR, "async-shared") for _ in range(12)))

    assert sum(d.allowed for d in decisions) == 5
    assert all(d.retry_after > 0 for d in decisions if not d.allowed)


def test_sync_and_async_callers_share_one_bucket():
    for _ in range(3):
        assert check(FIVE_AN_HOUR, "mixed").allowed

    async def rest():
        return [await acheck(FIVE_AN_HOUR, "mixed") for _ in range(3)]

    assert [d.allowed for d in asyncio.run(rest())] == [True, True, False]


@pytest.mark.django_db
def test_the_auth_api_is_rate_limited_per_client(api_client, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_IP", RateLimit(scope="auth", limit=2, period=3600))

    codes = [
        api_client.post("/api/v1/auth/token", {"username": "x", "password": "y"}, format="json").status_code
        for _ in range(3)
    ]

    assert codes == [400, 400, 429]


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(settings):
    factory = APIRequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7, 10.9.9.9")

    settings.TRUSTED_PROXIES = []
    assert client_ip(request) == "10.9.9.9"
    settings.TRUSTED_PROXIES = ["10.9.9.9"]
    assert client_ip(request) == "203.0.113.7"


class _Clock:
    """Stands in for the wall clock the bucket reads, so refill is checked without sleeping."""

    def __init__(self, monkeypatch, start_ms=1_700_000_000_000):
        self.now_ms = start_ms
        from core import ratelimit

        monkeypatch.setattr(ratelimit, "_now_ms", lambda: self.now_ms)

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


TEN_A_MINUTE = RateLimit(scope="test-fast", limit=10, period=60)  # one token every 6 s


def test_a_fast_bucket_stays_empty_a_moment_after_draining(monkeypatch):
    clock = _Clock(monkeypatch)
    assert all(check(TEN_A_MINUTE, "id").allowed for _ in range(10))

    clock.advance(0.5)

    refused = check(TEN_A_MINUTE, "id")
    assert not refused.allowed
    assert 5 <= refused.retry_after <= 6


def test_a_fast_bucket_refills_at_its_rate(monkeypatch):
    clock = _Clock(monkeypatch)
    for _ in range(10):
        check(TEN_A_MINUTE, "id")

    clock.advance(5.9)
    assert not check(TEN_A_MINUTE, "id").allowed
    clock.advance(0.1)  # 6 s after draining: exactly one token
    assert [check(TEN_A_MINUTE, "id").allowed for _ in range(2)] == [True, False]
    clock.advance(18)  # three more tokens
    assert [check(TEN_A_MINUTE, "id").allowed for _ in range(4)] == [True, True, True, False]


def test_a_fast_bucket_never_refills_past_its_capacity(monkeypatch):
    clock = _Clock(monkeypatch)
    check(TEN_A_MINUTE, "id")

    clock.advance(3600)

    assert sum(check(TEN_A_MINUTE, "id").allowed for _ in range(12)) == 10


@pytest.mark.django_db
def test_the_token_endpoint_limits_one_username_across_addresses(api_client, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_USERNAME", RateLimit(scope="auth-user", limit=3, period=3600))

    codes = [
        api_client.post(
            "/api/v1/auth/token", {"username": name, "password": "y"}, format="json", REMOTE_ADDR=f"10.1.0.{i}"
        ).status_code
        for i, name in enumerate(["zoe", "Zoe", "ZOE", "zoe"])
    ]
    other = api_client.post("/api/v1/auth/token", {"username": "yan", "password": "y"}, format="json")

    assert codes == [400, 400, 400, 429]
    assert other.status_code == 400


@pytest.mark.django_db
def test_the_register_endpoint_is_limited_per_client(api_client, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_IP", RateLimit(scope="auth", limit=2, period=3600))

    codes = [api_client.post("/api/v1/auth/register", {}, format="json").status_code for _ in range(3)]

    assert codes == [400, 400, 429]
