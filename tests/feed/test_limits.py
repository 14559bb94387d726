"""Mastodon's rate limits and their X-RateLimit headers."""

import pytest

from tests.feed.helpers import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_api_answer_carries_the_rate_limit_headers(alice, as_user):
    response = as_user(alice).get("/api/v1/accounts/verify_credentials")
    assert response["X-RateLimit-Limit"] == "300"
    assert response["X-RateLimit-Remaining"] == "299"
    assert response["X-RateLimit-Reset"].endswith("Z")
    again = as_user(alice).get("/api/v1/timelines/home")
    assert again["X-RateLimit-Remaining"] == "298"


def test_statuses_are_limited_per_account(alice, bob, as_user, settings):
    settings.FEED_STATUSES_PER_3H = 3
    a = as_user(alice)
    codes = [a.post("/api/v1/statuses", {"status": f"n{i}"}, format="json") for i in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[0]["X-RateLimit-Limit"] == "3" and codes[2]["X-RateLimit-Remaining"] == "0"
    limited = codes[3]
    assert limited.json()["error"] == "Too many requests"
    assert limited["X-RateLimit-Remaining"] == "0" and int(limited["Retry-After"]) > 0
    assert as_user(bob).post("/api/v1/statuses", {"status": "mine"}, format="json").status_code == 200


def test_follows_are_limited_per_account(alice, make_user, as_user, settings):
    settings.FEED_FOLLOWS_PER_DAY = 2
    a = as_user(alice)
    targets = [make_user() for _ in range(3)]
    codes = [a.post(f"/api/v1/accounts/{t.id}/follow").status_code for t in targets]
    assert codes == [200, 200, 429]
    assert a.post(f"/api/v1/accounts/{targets[0].id}/unfollow").status_code == 200


def test_the_general_limit_answers_429(alice, as_user, settings):
    settings.FEED_API_PER_5MIN = 2
    a = as_user(alice)
    assert [a.get("/api/v1/instance").status_code for _ in range(3)] == [200, 200, 429]


def test_concurrent_posts_never_pass_the_limit_together(alice, as_user, settings):
    settings.FEED_STATUSES_PER_3H = 3

    def attempt(i):
        return as_user(alice).post("/api/v1/statuses", {"status": f"race {i}"}, format="json").status_code

    codes = run_concurrently(attempt, 6)
    assert sorted(codes) == [200, 200, 200, 429, 429, 429]
