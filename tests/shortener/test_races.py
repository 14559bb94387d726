"""Concurrent callers: one alias claimed twice, a click budget hit by many visitors."""

import asyncio

import pytest
from rest_framework.test import APIClient

from shortener.models import Link
from tests.fixtures.concurrency import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_concurrent_creations_by_one_user_never_pass_the_rate_limit(make_user, settings):
    from core.services import token_for

    settings.SHORTENER_CREATE_PER_MINUTE = 4
    user = make_user("burst")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user).key}")

    def create(i):
        return client.post("/api/v1/shorten", {"long_url": f"https://example.com/{i}"}, format="json").status_code

    statuses = run_concurrently(create, 10)
    assert sorted(statuses) == [201] * 4 + [429] * 6
    assert Link.objects.filter(owner=user).count() == 4


async def test_the_hot_path_answers_429_for_a_user_over_the_creation_limit(make_user, settings):
    import json

    from asgiref.sync import sync_to_async

    from core.services import token_for
    from tests.shortener.test_fastpath import asgi_post

    settings.SHORTENER_CREATE_PER_MINUTE = 2
    user = await sync_to_async(make_user)("hot")
    token = await sync_to_async(token_for)(user)
    auth = [(b"authorization", f"Token {token.key}".encode())]
    answers = await asyncio.gather(*(
        asgi_post("/api/v1/shorten", json.dumps({"long_url": f"https://example.com/{i}"}).encode(), auth)
        for i in range(5)
    ))
    assert sorted(status for status, _, _ in answers) == [201, 201, 429, 429, 429]
    limited = next(body for status, _, body in answers if status == 429)
    assert limited["code"] == "rate_limited" and limited["retry_after"] >= 1
    assert await Link.objects.filter(owner=user).acount() == 2
