"""Home timeline: paging, push fan-out, celebrity pull and threshold crossing, rebuilds,
propagation of follows, deletes, blocks and mutes, reblog de-duplication, query counts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feed import store, tasks
from feed.models import FeedAccount
from feed.store import entity_cache
from tests.feed.helpers import activate, follow, home, home_ids, make_inactive, post

pytestmark = pytest.mark.django_db(transaction=True)


def _links(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"])}


@pytest.fixture
def reader_of_bob(alice, bob, as_user):
    """alice, active, following bob: returns (alice's client, bob's client)."""
    a, b = as_user(alice), as_user(bob)
    activate(a)
    follow(a, bob)
    return a, b


# --- ordering and paging ----------------------------------------------------------------
def test_home_is_newest_first_and_pages_with_max_id_since_id_and_min_id(reader_of_bob):
    a, b = reader_of_bob
    s = [post(b, f"post {i}")["id"] for i in range(5)]

    first = home(a, limit=2)
    assert first.status_code == 200
    assert [x["id"] for x in first.json()] == [s[4], s[3]]
    links = _links(first)
    assert links["next"].endswith(f"max_id={s[3]}") and "limit=2" in links["next"]
    assert links["prev"].endswith(f"min_id={s[4]}")

    assert home_ids(a, limit=2, max_id=s[3]) == [s[2], s[1]]
    assert home_ids(a, max_id=s[1]) == [s[0]]
    assert home_ids(a, limit=2, since_id=s[1]) == [s[4], s[3]]  # newest first, down to since_id
    assert home_ids(a, limit=2, min_id=s[1]) == [s[3], s[2]]  # the ones right after min_id
    assert home_ids(a, max_id=s[4], min_id=s[1]) == [s[3], s[2]]
    assert home_ids(a, since_id=s[4]) == []


def test_an_empty_page_has_no_link_header(alice, as_user):
    a = as_user(alice)
    activate(a)
    response = home(a)
    assert response.status_code == 200 and response.json() == []
    assert "Link" not in response


def test_limit_is_clamped_to_40_and_bad_paging_parameters_are_400(reader_of_bob):
    a, b = reader_of_bob
    for i in range(42):
        post(b, f"post {i}")
    assert len(home_ids(a, limit=100)) == 40
    assert len(home_ids(a, limit=0)) == 1
    assert len(home_ids(a)) == 20
    for params, field in [({"limit": "ten"}, "limit"), ({"max_id": "abc"}, "max_id"),
                          ({"since_id": "-5"}, "since_id"), ({"min_id": "1" * 25}, "min_id")]:
        response = home(a, **params)
        assert response.status_code == 400, params
        assert field in response.json()["fields"] and response.json()["error"]


def test_home_requires_a_token(api_client):
    response = api_client.get("/api/v1/timelines/home")
    assert response.status_code == 401
    assert response.json()["error"]


# --- push fan-out and inactive readers ---------------------------------------------------
def test_a_post_is_pushed_to_active_followers_only(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    follow(c, bob)
    make_inactive(carol)
    status = post(b, "to my followers")
    assert int(status["id"]) in store.timeline_members(alice.id)
    assert int(status["id"]) not in store.timeline_members(carol.id)
    assert int(status["id"]) in store.timeline_members(bob.id)  # the author's own timeline
    assert home_ids(a) == [status["id"]]


def test_a_returning_reader_gets_206_from_the_database_while_the_timeline_is_rebuilt(
        alice, bob, carol, as_user, monkeypatch):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    follow(a, bob)
    follow(a, carol)
    posted = [post(b, "one")["id"], post(c, "two")["id"], post(b, "three")["id"]]
    make_inactive(alice)
    store.timeline_reset(alice.id)

    enqueued = []
    monkeypatch.setattr(tasks.rebuild_home, "delay", lambda **kw: enqueued.append(kw))
    for _ in range(2):  # the rebuild has not run yet: both reads answer from the database
        response = home(a, limit=2)
        assert response.status_code == 206
        assert [s["id"] for s in response.json()] == [posted[2], posted[1]]
        assert _links(response)["next"].endswith(f"max_id={posted[1]}")
    assert enqueued == [{"reader_id": alice.id}]  # one rebuild, not one per read

    # Active again: new posts are pushed even before the rebuild ran.
    later = post(c, "four")["id"]
    monkeypatch.undo()
    tasks.rebuild_home(reader_id=alice.id)
    response = home(a)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [later, *reversed(posted)]
    assert FeedAccount.objects.get(user=alice).last_read_at is not None


def test_a_reader_whose_timeline_redis_lost_is_rebuilt(reader_of_bob, alice):
    a, b = reader_of_bob
    status = post(b, "kept in the database")["id"]
    store.timeline_reset(alice.id)
    from core.redis import get_redis

    get_redis().delete(store.timeline_ready_key(alice.id))
    first = home(a)
    assert first.status_code == 206 and [s["id"] for s in first.json()] == [status]
    assert home_ids(a) == [status]  # the eager rebuild ran after the first read


# --- celebrities: pull and threshold crossing ----------------------------------------------
def test_a_celebrity_is_pulled_at_read_time_and_merged_in_order(alice, bob, carol, make_user, as_user, settings):
    settings.FEED_CELEBRITY_THRESHOLD = 1
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    dave = as_user(make_user("dave"))
    activate(a)
    follow(a, bob)
    follow(a, carol)
    follow(dave, bob)  # bob now has 2 followers > 1: a celebrity
    assert FeedAccount.objects.get(user=bob).is_celebrity
    assert store.celebrities_of(alice.id) == [bob.id]

    ids = [post(b, "celebrity 1")["id"], post(c, "normal 1")["id"], post(b, "celebrity 2")["id"],
           post(c, "normal 2")["id"]]
    timeline = store.timeline_members(alice.id)
    assert int(ids[0]) not in timeline and int(ids[2]) not in timeline  # not pushed
    assert int(ids[1]) in timeline
    assert home_ids(a) == list(reversed(ids))
    assert home_ids(a, limit=2, max_id=ids[2]) == [ids[1], ids[0]]
    assert home_ids(a, limit=1, min_id=ids[0]) == [ids[1]]


def test_crossing_the_threshold_upwards_leaves_no_gap_and_no_duplicate(alice, bob, carol, as_user, settings):
    settings.FEED_CELEBRITY_THRESHOLD = 1
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    before = post(b, "pushed while normal")["id"]
    follow(c, bob)  # 2 followers: bob turns celebrity
    assert FeedAccount.objects.get(user=bob).is_celebrity
    after = post(b, "pulled as a celebrity")["id"]
    assert int(after) not in store.timeline_members(alice.id)
    assert home_ids(a) == [after, before]


def test_crossing_the_threshold_downwards_leaves_no_gap_and_no_duplicate(alice, bob, carol, as_user, settings):
    settings.FEED_CELEBRITY_THRESHOLD = 1
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    follow(c, bob)
    while_celebrity = post(b, "pulled")["id"]
    assert int(while_celebrity) not in store.timeline_members(alice.id)
    assert c.post(f"/api/v1/accounts/{bob.id}/unfollow").status_code == 200  # back to 1 follower
    assert not FeedAccount.objects.get(user=bob).is_celebrity
    assert int(while_celebrity) in store.timeline_members(alice.id)  # merged on the way down
    assert store.celebrities_of(alice.id) == []
    after = post(b, "pushed again")["id"]
    assert int(after) in store.timeline_members(alice.id)
    assert home_ids(a) == [after, while_celebrity]


# --- propagation ------------------------------------------------------------------------------
def test_follow_merges_recent_posts_and_unfollow_removes_them(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, carol)
    old = [post(b, f"before the follow {i}")["id"] for i in range(3)]
    own = post(c, "carol's")["id"]
    assert home_ids(a) == [own]
    follow(a, bob)
    assert home_ids(a) == [own, *reversed(old)]
    response = a.post(f"/api/v1/accounts/{bob.id}/unfollow")
    assert response.status_code == 200 and response.json()["following"] is False
    assert home_ids(a) == [own]
    assert not {int(i) for i in old} & set(store.timeline_members(alice.id))


def test_a_deleted_post_leaves_every_timeline_with_its_reblogs(alice, bob, carol, make_user, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    dave_user = make_user("dave")
    d = as_user(dave_user)
    for reader in (a, d):
        activate(reader)
    follow(a, bob)
    follow(d, carol)
    status = post(b, "soon gone")["id"]
    reblog = c.post(f"/api/v1/statuses/{status}/reblog").json()["id"]
    assert home_ids(a) == [status] and home_ids(d) == [reblog]

    assert b.delete(f"/api/v1/statuses/{status}").status_code == 200
    assert home_ids(a) == [] and home_ids(d) == []
    assert int(status) not in store.timeline_members(alice.id)
    assert int(reblog) not in store.timeline_members(dave_user.id)
    assert int(status) not in store.timeline_members(bob.id)
    assert a.get(f"/api/v1/statuses/{status}").status_code == 404
    assert a.get(f"/api/v1/statuses/{reblog}").status_code == 404


def test_block_ends_follows_and_hides_posts_and_reblogs_of_them(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    follow(a, carol)
    follow(b, alice)
    bobs = post(b, "bob's")["id"]
    reblog = c.post(f"/api/v1/statuses/{bobs}/reblog").json()["id"]
    carols = post(c, "carol's")["id"]
    assert home_ids(a) == [carols, bobs]  # the reblog of a post already shown is not shown again

    response = a.post(f"/api/v1/accounts/{bob.id}/block")
    assert response.status_code == 200
    assert response.json()["blocking"] is True and response.json()["following"] is False
    assert response.json()["followed_by"] is False
    assert home_ids(a) == [carols]
    assert reblog not in home_ids(a)
    assert b.get(f"/api/v1/statuses/{bobs}").status_code == 200
    assert a.get(f"/api/v1/statuses/{bobs}").status_code == 404
    assert a.post(f"/api/v1/accounts/{bob.id}/follow").status_code == 403
    assert b.post(f"/api/v1/accounts/{alice.id}/follow").status_code == 403

    assert a.post(f"/api/v1/accounts/{bob.id}/unblock").json()["blocking"] is False
    assert home_ids(a) == [carols]  # unblocked, but no longer followed


def test_mute_hides_posts_and_reblogs_and_keeps_the_follow(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    follow(a, carol)
    bobs = post(b, "bob's")["id"]
    carols = post(c, "carol's")["id"]
    response = a.post(f"/api/v1/accounts/{bob.id}/mute")
    assert response.json()["muting"] is True and response.json()["following"] is True
    assert home_ids(a) == [carols]
    assert a.post(f"/api/v1/accounts/{bob.id}/unmute").json()["muting"] is False
    assert home_ids(a) == [carols, bobs]


def test_a_reblog_of_a_post_already_in_the_timeline_is_not_shown_twice(alice, bob, carol, make_user, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    d = as_user(make_user("dave"))
    activate(a)
    follow(a, bob)
    follow(a, carol)
    follow(a, d.user)
    original = post(b, "original")["id"]
    c.post(f"/api/v1/statuses/{original}/reblog")
    assert home_ids(a) == [original]

    elsewhere = post(as_user(make_user("erin")), "not followed")["id"]
    first = c.post(f"/api/v1/statuses/{elsewhere}/reblog").json()["id"]
    d.post(f"/api/v1/statuses/{elsewhere}/reblog")
    page = home(a).json()
    assert [s["id"] for s in page] == [first, original]
    assert page[0]["reblog"]["id"] == elsewhere and page[0]["account"]["username"] == "carol"


# --- reads are cheap ----------------------------------------------------------------------------
def test_a_home_page_costs_the_same_queries_for_5_or_20_posts(reader_of_bob, alice, carol, as_user):
    a, b = reader_of_bob
    c = as_user(carol)
    follow(a, carol)
    ids = []
    for i in range(12):
        ids.append(post(b, f"@carol post {i} #tag")["id"])
        ids.append(c.post(f"/api/v1/statuses/{post(c, f'carol {i}')['id']}/favourite").json()["id"])
    a.post(f"/api/v1/statuses/{ids[0]}/favourite")
    a.post(f"/api/v1/statuses/{ids[2]}/reblog")
    home(a)  # warm: activity touch and status cache

    def count(limit: int) -> int:
        entity_cache.statuses_uncache(int(i) for i in ids)
        with CaptureQueriesContext(connection) as queries:
            response = home(a, limit=limit)
        assert response.status_code == 200 and len(response.json()) == limit
        return len(queries)

    few, many = count(5), count(20)
    assert few == many
    assert many <= 5  # auth, hidden accounts, statuses IN, accounts with mentions, favourited and reblogged
    with CaptureQueriesContext(connection) as cached:
        assert len(home(a, limit=20).json()) == 20
    assert len(cached) < many  # statuses came from the Redis cache
    # a warm read: the reader, their blocks and mutes, their flags (the entities are cached in Redis)
    assert len(cached) == 3, [q["sql"] for q in cached.captured_queries]
    flags = {s["id"]: (s["favourited"], s["reblogged"]) for s in home(a, limit=40).json()}
    assert flags[ids[0]] == (True, False)
    assert flags[ids[2]] == (False, True)


def test_a_page_thinned_by_filters_stops_after_max_batches(reader_of_bob, monkeypatch):
    from feed import selectors

    a, b = reader_of_bob
    for i in range(30):
        post(b, f"muted {i}")
    a.post(f"/api/v1/accounts/{b.user.id}/mute")
    monkeypatch.setattr(selectors, "MAX_BATCHES", 2)
    reads = []
    original = store.timeline_ranges
    monkeypatch.setattr(store, "timeline_ranges", lambda *args, **kw: reads.append(1) or original(*args, **kw))
    response = home(a, limit=1)
    assert response.status_code == 200 and response.json() == []
    assert len(reads) == 2  # 30 hidden posts, 7 per batch: stopped after 2 batches


def test_a_warm_home_page_costs_a_fixed_few_redis_round_trips(reader_of_bob, carol, as_user, monkeypatch):
    import redis.client

    a, b = reader_of_bob
    c = as_user(carol)
    follow(a, carol)
    for i in range(12):
        post(b, f"@carol post {i} #tag")
        c.post(f"/api/v1/statuses/{post(c, f'carol {i}')['id']}/favourite")
    home(a)  # warm: activity touch and status cache

    trips: list[str] = []
    command, execute = redis.client.Redis.execute_command, redis.client.Pipeline.execute

    def counted_command(self, *args, **options):
        trips.append(str(args[0]))
        return command(self, *args, **options)

    def counted_execute(self, *args, **kwargs):
        trips.append("pipeline:" + ",".join(sorted({str(c[0][0]) for c in self.command_stack})))
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Redis, "execute_command", counted_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
    response = home(a, limit=20)
    monkeypatch.undo()

    assert response.status_code == 200 and len(response.json()) == 20
    # the token, the rate limit, the reader's state, the timeline, the cached statuses, then every
    # cached entity part and counter at once
    assert len([t for t in trips if t != "GET"]) == 5, trips
    assert trips.count("pipeline:HGET") == 1 and trips.count("pipeline:HGETALL,HMGET") == 1, trips
