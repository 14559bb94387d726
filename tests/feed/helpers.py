"""Calls of the Mastodon API used across the feed's tests."""

from tests.fixtures.concurrency import run_concurrently  # noqa: F401 - the feed tests import it from here


def post(client, text: str = "hello", **extra) -> dict:
    response = client.post("/api/v1/statuses", {"status": text, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def home(client, **params):
    return client.get("/api/v1/timelines/home", params)


def home_ids(client, **params) -> list[str]:
    response = home(client, **params)
    assert response.status_code == 200, (response.status_code, response.content)
    return [s["id"] for s in response.json()]


def follow(client, user) -> dict:
    response = client.post(f"/api/v1/accounts/{user.id}/follow")
    assert response.status_code == 200, response.content
    return response.json()


def activate(client) -> None:
    """A first home read: the reader becomes active and their timeline is built."""
    response = home(client)
    assert response.status_code in (200, 206), response.content


def make_inactive(user, days: int = 30) -> None:
    """The reader was last seen ``days`` ago: no pushes, and their timeline markers are gone."""
    from datetime import timedelta

    from django.utils import timezone

    from core.redis import get_redis
    from feed import store
    from feed.models import FeedAccount

    FeedAccount.objects.update_or_create(user=user, defaults={"last_read_at": timezone.now() - timedelta(days=days)})
    get_redis().delete(store.timeline_ready_key(user.id), store.activity_key(user.id))
