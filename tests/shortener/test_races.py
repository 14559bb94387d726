"""Concurrent callers: one alias claimed twice, a click budget hit by many visitors."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from shortener.models import Link

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(target, n: int) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        barrier.wait()
        try:
            results[i] = target(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_concurrent_claim_of_one_alias_yields_one_201_and_one_409(make_user):
    from core.services import token_for

    clients = []
    for name in ("ann", "ben"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(make_user(name)).key}")
        clients.append(client)

    def claim(i):
        return clients[i].post("/api/v1/shorten", {"long_url": f"https://example.com/{i}", "custom_alias": "launch"},
                               format="json")

    responses = run_concurrently(claim, 2)
    assert sorted(r.status_code for r in responses) == [201, 409]
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["code"] == "alias_taken" and len(conflict["suggested"]) == 3
    assert Link.objects.filter(short_code="launch").count() == 1


def test_concurrent_visitors_never_get_past_max_clicks(make_link):
    from django.test import Client

    link = make_link(max_clicks=3)

    def visit(i):
        return Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0").get(f"/{link.short_code}").status_code

    statuses = run_concurrently(visit, 8)
    assert sorted(statuses) == [302] * 3 + [410] * 5
    link.refresh_from_db()
    assert link.served_count == 3
