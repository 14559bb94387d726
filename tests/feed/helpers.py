"""Calls of the Mastodon API used across the feed's tests."""


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


def run_concurrently(call, n: int) -> list:
    """Run ``call(i)`` for i in 0..n-1 on n threads released together; each thread closes its
    database connection when done."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(n)
    results: list = [None] * n
    failures: list = []

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return results


def make_inactive(user, days: int = 30) -> None:
    """The reader was last seen ``days`` ago: no pushes, and their timeline markers are gone."""
    from datetime import timedelta

    from django.utils import timezone

    from core.redis import get_redis
    from feed import store
    from feed.models import FeedAccount

    FeedAccount.objects.update_or_create(user=user, defaults={"last_read_at": timezone.now() - timedelta(days=days)})
    get_redis().delete(store.timeline_ready_key(user.id), store.activity_key(user.id))
