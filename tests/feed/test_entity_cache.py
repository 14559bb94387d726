"""The entity cache: statuses and accounts rendered once, spliced with live counters and flags, and
kept right when statuses are deleted, attachments described anew, accounts edited or counters move."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.redis import get_redis
from feed import entity_json, presenters, store
from feed.models import FeedAccount
from feed.store import entity_cache
from tests.feed.helpers import follow, post

pytestmark = pytest.mark.django_db(transaction=True)


def _everything_uncached() -> None:
    client = get_redis()
    keys = list(client.scan_iter(match="feed:entity:*"))
    if keys:
        client.delete(*keys)


def test_a_status_renders_the_same_from_the_cache_as_from_the_database(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    follow(a, bob)
    original = post(b, "hello @alice and @nobody #news https://example.com/x?a=1&b=2\n\nGrüße <b>✓</b>")["id"]
    reply = post(c, "a reply", in_reply_to_id=original)["id"]
    reblog = c.post(f"/api/v1/statuses/{original}/reblog").json()["id"]
    a.post(f"/api/v1/statuses/{original}/favourite")
    ids = [int(original), int(reply), int(reblog)]

    cached = presenters.render_statuses(ids, alice)  # the fan-out and the API answers filled the cache
    _everything_uncached()
    rendered = presenters.render_statuses(ids, alice)  # from the database
    assert rendered == cached
    assert presenters.render_statuses(ids, alice) == rendered  # from the cache it just filled
    assert rendered[0]["favourited"] is True and rendered[2]["reblog"]["favourited"] is True
    assert rendered[0]["mentions"] == [{"id": str(alice.id), "username": "alice",
                                        "url": entity_json.account_url(alice), "acct": "alice"}]


def test_the_splice_gives_the_bytes_of_rendering_the_whole_entity():
    """``status_json`` joins members rendered apart: the same bytes as DRF rendering the dict."""
    from rest_framework.renderers import JSONRenderer

    parts = (entity_json.members({"id": "1", "uri": "u\u2028"}), entity_json.members({"content": "<p>é</p>"}),
             entity_json.members({"tags": [{"name": "x"}]}))
    account = entity_json.account_json(entity_json.members({"id": "7", "username": "bob"}), b"3", b"2", b"1")
    whole = entity_json.status_json(parts, account, None, [b"4", b"5", b"-1"], True, False)
    expected = {"id": "1", "uri": "u\u2028", "account": {"id": "7", "username": "bob", "statuses_count": 3,
                                                           "followers_count": 2, "following_count": 1},
                "content": "<p>é</p>", "reblog": None, "tags": [{"name": "x"}], "replies_count": 4,
                "reblogs_count": 5, "favourites_count": -1, "favourited": True, "reblogged": False, "muted": False,
                "bookmarked": False, "pinned": False, "filtered": []}
    assert whole == JSONRenderer().render(expected)


def test_a_render_begun_before_an_invalidation_does_not_cache_its_stale_parts(alice):
    from feed.services.statuses import status_publish

    status, _ = status_publish(account=alice, text="first words")
    _everything_uncached()
    entity_cache.statuses_cache([{"id": status.id, "account_id": alice.id, "text": "first words",
                                  "in_reply_to_id": None, "in_reply_to_account_id": None, "reblog_of_id": None,
                                  "visibility": "public", "created_at": status.created_at.isoformat(),
                                  "deleted": False, "has_media": False}])
    _, version = entity_cache.render_inputs([status.id], []).status_parts[status.id]
    entity_cache.status_parts_invalidate([status.id])  # an edit lands while the slow render runs
    entity_cache.status_parts_cache({status.id: ((b'"id":"stale"', b'"mid":1', b'"tail":1'), version)})
    parts, _ = entity_cache.render_inputs([status.id], []).status_parts[status.id]
    assert parts is None
    assert presenters.render_status(status.id, None)["id"] == str(status.id)  # rendered anew


def test_a_new_alt_text_shows_at_once_in_the_status(alice, as_user, settings, tmp_path):
    from tests.feed.test_media import upload

    settings.MEDIA_ROOT, settings.PRIVATE_MEDIA_ROOT = tmp_path / "media", tmp_path / "private"
    client = as_user(alice)
    media_id = upload(client, description="old words").json()["id"]
    status = post(client, "", media_ids=[media_id])
    assert client.get(f"/api/v1/statuses/{status['id']}").json()["media_attachments"][0]["description"] == "old words"
    assert client.put(f"/api/v1/media/{media_id}", {"description": "new words"}, format="json").status_code == 200
    shown = client.get(f"/api/v1/statuses/{status['id']}").json()
    assert shown["media_attachments"][0]["description"] == "new words"


def test_the_counters_mirrored_in_the_cache_move_with_the_live_ones(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    status = int(post(b, "count me")["id"])
    presenters.render_status(status, None)  # parts cached, counters mirrored
    a.post(f"/api/v1/statuses/{status}/favourite")
    c.post(f"/api/v1/statuses/{status}/favourite")
    c.post(f"/api/v1/statuses/{status}/reblog")
    a.post(f"/api/v1/statuses/{status}/unfavourite")
    follow(a, bob)
    mirror = get_redis().hgetall(store.status_entity_key(status))
    live = store.counters_get("s", [status])[status]
    assert {k: int(mirror[k.encode()]) for k in live} == live == {"favourites_count": 1, "reblogs_count": 1,
                                                                   "replies_count": 0}
    account = get_redis().hgetall(store.account_entity_key(bob.id))
    assert int(account[b"followers_count"]) == store.counters_get("a", [bob.id])[bob.id]["followers_count"] == 1


def test_replaced_counters_are_mirrored_again_by_the_next_render(alice):
    from feed.services.statuses import status_publish

    status, _ = status_publish(account=alice, text="recounted")
    presenters.render_status(status.id, None)
    store.counters_set("s", {status.id: {"favourites_count": 7, "reblogs_count": 0, "replies_count": 0}})
    assert entity_cache.render_inputs([status.id], []).unmirrored["s"] == [status.id]
    assert presenters.render_status(status.id, None)["favourites_count"] == 7
    assert get_redis().hget(store.status_entity_key(status.id), "favourites_count") == b"7"


def test_a_status_the_database_lost_is_remembered_as_gone(alice):
    from feed import selectors

    gone = 10**15
    assert selectors.status_records([gone]) == {}
    assert entity_cache.statuses_cached([gone]) == {gone: None}
    assert selectors.status_records([gone]) == {}


def test_the_first_status_of_a_new_day_shows_in_the_cached_account(alice, as_user):
    yesterday = timezone.now() - timedelta(days=1)
    FeedAccount.objects.update_or_create(user=alice, defaults={"last_status_at": yesterday})
    assert presenters.render_account(alice)["last_status_at"] == yesterday.date().isoformat()  # now cached
    post(as_user(alice), "today")
    assert presenters.render_account(alice)["last_status_at"] == timezone.now().date().isoformat()
