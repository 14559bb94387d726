"""Feed services below the API: after-commit delivery, keyset batches, caps, TTLs, the status cache."""

import pytest
from django.db import transaction

from core.redis import get_redis
from feed import selectors, store
from feed.models import Status
from feed.services import fanout
from feed.services.statuses import status_delete, status_publish
from feed.store import entity_cache
from tests.feed.helpers import activate, follow, home_ids, post

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_a_rolled_back_publish_is_never_delivered_or_counted(alice, bob, as_user):
    a = as_user(alice)
    activate(a)
    follow(a, bob)
    with pytest.raises(Boom), transaction.atomic():
        status, _ = status_publish(account=bob, text="never happened")
        raise Boom
    assert not Status.objects.filter(id=status.id).exists()
    assert store.timeline_members(alice.id) == []
    assert store.timeline_members(bob.id) == []
    assert a.get(f"/api/v1/accounts/{bob.id}").json()["statuses_count"] == 0


def test_fan_out_walks_active_followers_in_keyset_batches(bob, make_user, as_user, monkeypatch):
    monkeypatch.setattr(fanout, "FANOUT_BATCH", 2)
    readers = [make_user() for _ in range(5)]
    for reader in readers:
        client = as_user(reader)
        activate(client)
        follow(client, bob)
    calls = []
    original = store.timelines_push
    monkeypatch.setattr(store, "timelines_push", lambda ids, entries: (calls.append(list(ids)), original(ids, entries)))
    status = int(post(as_user(bob), "to everyone")["id"])
    assert calls == [[bob.id], [r.id for r in readers[:2]], [r.id for r in readers[2:4]], [readers[4].id]]
    for reader in readers:
        assert store.timeline_members(reader.id) == [status]


def test_a_timeline_keeps_the_newest_feed_timeline_max_entries(alice, bob, as_user, settings):
    settings.FEED_TIMELINE_MAX = 5
    a = as_user(alice)
    activate(a)
    follow(a, bob)
    ids = [int(post(as_user(bob), f"post {i}")["id"]) for i in range(7)]
    assert store.timeline_members(alice.id) == ids[2:]
    assert home_ids(a) == [str(i) for i in reversed(ids[2:])]


def test_timelines_of_readers_who_stop_reading_expire(alice, as_user, settings):
    a = as_user(alice)
    post(a, "mine")
    activate(a)
    redis = get_redis()
    active = settings.FEED_ACTIVE_DAYS * 86400
    assert 0 < redis.ttl(store.timeline_ready_key(alice.id)) <= active
    assert active < redis.ttl(store.timeline_key(alice.id)) <= active + 86400


def test_a_read_that_raced_a_delete_cannot_restore_the_deleted_status_in_the_cache(alice):
    status, _ = status_publish(account=alice, text="gone soon")
    stale = selectors.status_records([status.id])[status.id]
    entity_cache.statuses_uncache([status.id])
    status_delete(account=alice, status_id=status.id)
    entity_cache.statuses_cache([stale])  # the slow reader's fill arrives after the delete
    assert selectors.status_records([status.id])[status.id]["deleted"] is True


def test_a_json_body_that_is_not_an_object_is_400(alice, as_user):
    response = as_user(alice).post("/api/v1/statuses", ["status", "x"], format="json")
    assert response.status_code == 400 and "body" in response.json()["fields"]


def test_a_nul_character_is_refused_not_a_server_error(alice, as_user):
    a = as_user(alice)
    response = a.post("/api/v1/statuses", {"status": "a\x00b"}, format="json")
    assert response.status_code == 422 and "status" in response.json()["fields"]
    assert a.get("/api/v1/accounts/lookup", {"acct": "ali\x00ce"}).status_code == 404
