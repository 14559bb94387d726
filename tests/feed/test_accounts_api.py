"""Accounts, relationships and instance through Mastodon's API."""

import pytest

from feed.models import Follow
from tests.feed.helpers import follow, post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

RELATIONSHIP_FIELDS = {
    "id", "following", "showing_reblogs", "notifying", "languages", "followed_by", "blocking", "blocked_by",
    "muting", "muting_notifications", "requested", "requested_by", "domain_blocking", "endorsed", "note",
}


def test_verify_credentials_is_the_callers_account_with_source(alice, as_user, api_client):
    response = as_user(alice).get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(alice.id) and body["username"] == "alice"
    assert body["source"]["privacy"] == "public" and body["source"]["fields"] == []
    assert api_client.get("/api/v1/accounts/verify_credentials").status_code == 401


def test_lookup_finds_an_account_by_acct(alice, bob, as_user, api_client):
    for acct in ("bob", "@bob", "bob@127.0.0.1:8000"):
        response = api_client.get("/api/v1/accounts/lookup", {"acct": acct})
        assert response.status_code == 200, acct
        assert response.json()["id"] == str(bob.id)
    assert api_client.get("/api/v1/accounts/lookup", {"acct": "nobody"}).status_code == 404
    assert api_client.get("/api/v1/accounts/lookup", {"acct": "bob@elsewhere.example"}).status_code == 404
    missing = api_client.get("/api/v1/accounts/lookup")
    assert missing.status_code == 400 and "acct" in missing.json()["fields"]


def test_account_shows_live_counts(alice, bob, carol, as_user):
    follow(as_user(alice), bob)
    follow(as_user(carol), bob)
    follow(as_user(bob), alice)
    post(as_user(bob), "one")
    body = as_user(alice).get(f"/api/v1/accounts/{bob.id}").json()
    assert (body["followers_count"], body["following_count"], body["statuses_count"]) == (2, 1, 1)
    assert body["last_status_at"] is not None


def test_account_statuses_filter_and_page(alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    plain = post(a, "plain")["id"]
    other = post(b, "bob's")["id"]
    reply = post(a, "a reply", in_reply_to_id=other)["id"]
    reblog = a.post(f"/api/v1/statuses/{other}/reblog").json()["id"]
    path = f"/api/v1/accounts/{alice.id}/statuses"
    assert [s["id"] for s in b.get(path).json()] == [reblog, reply, plain]
    assert [s["id"] for s in b.get(path, {"exclude_replies": "true"}).json()] == [reblog, plain]
    thread = post(a, "my own thread", in_reply_to_id=plain)["id"]
    assert [s["id"] for s in b.get(path, {"exclude_replies": "1"}).json()] == [thread, reblog, plain]
    a.delete(f"/api/v1/statuses/{thread}")
    assert [s["id"] for s in b.get(path, {"exclude_reblogs": "true"}).json()] == [reply, plain]
    assert b.get(path, {"pinned": "true"}).json() == []
    assert b.get(path, {"only_media": "true"}).json() == []
    page = b.get(path, {"limit": 2})
    assert [s["id"] for s in page.json()] == [reblog, reply]
    assert f"max_id={reply}" in page["Link"] and f"min_id={reblog}" in page["Link"]
    assert [s["id"] for s in b.get(path, {"max_id": reply}).json()] == [plain]
    assert [s["id"] for s in b.get(path, {"min_id": plain, "limit": 1}).json()] == [reply]


def test_followers_and_following_page_with_link_headers(alice, bob, carol, as_user):
    follow(as_user(bob), alice)
    follow(as_user(carol), alice)
    follow(as_user(alice), carol)
    followers = as_user(bob).get(f"/api/v1/accounts/{alice.id}/followers", {"limit": 1})
    assert [a["username"] for a in followers.json()] == ["carol"]
    next_url = followers["Link"].split(">")[0].lstrip("<")
    assert [a["username"] for a in as_user(bob).get(next_url).json()] == ["bob"]
    following = as_user(bob).get(f"/api/v1/accounts/{alice.id}/following").json()
    assert [a["username"] for a in following] == ["carol"]


def test_follow_returns_the_relationship_and_is_idempotent(alice, bob, as_user):
    a = as_user(alice)
    for _ in range(2):
        response = a.post(f"/api/v1/accounts/{bob.id}/follow")
        assert response.status_code == 200
        assert set(response.json()) == RELATIONSHIP_FIELDS
        assert response.json()["id"] == str(bob.id) and response.json()["following"] is True
    assert a.get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 1
    assert a.get(f"/api/v1/accounts/{alice.id}").json()["following_count"] == 1
    for _ in range(2):
        assert a.post(f"/api/v1/accounts/{bob.id}/unfollow").json()["following"] is False
    assert a.get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 0


def test_concurrent_follows_make_one_follow(alice, bob, client_for):
    clients = [client_for(alice) for _ in range(4)]
    responses = run_concurrently(lambda i: clients[i].post(f"/api/v1/accounts/{bob.id}/follow"), 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
    assert clients[0].get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 1


def test_relationship_actions_on_oneself_or_nobody_are_refused(alice, as_user):
    a = as_user(alice)
    for verb in ("follow", "block", "mute"):
        response = a.post(f"/api/v1/accounts/{alice.id}/{verb}")
        assert response.status_code == 403 and response.json()["error"] == "This action is not allowed"
        assert a.post(f"/api/v1/accounts/999999/{verb}").status_code == 404
    assert a.get(f"/api/v1/accounts/{alice.id}/follow").status_code == 405


def test_relationships_for_several_ids(alice, bob, carol, as_user):
    a = as_user(alice)
    follow(a, bob)
    follow(as_user(carol), alice)
    a.post(f"/api/v1/accounts/{carol.id}/mute")
    response = a.get("/api/v1/accounts/relationships", {"id[]": [bob.id, carol.id, 999999, "junk"]})
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()}
    assert list(by_id) == [str(bob.id), str(carol.id)]
    assert by_id[str(bob.id)]["following"] is True and by_id[str(bob.id)]["followed_by"] is False
    assert by_id[str(carol.id)]["followed_by"] is True and by_id[str(carol.id)]["muting"] is True
    as_user(bob).post(f"/api/v1/accounts/{alice.id}/block")
    blocked = a.get("/api/v1/accounts/relationships", {"id[]": [bob.id]}).json()[0]
    assert blocked["blocked_by"] is True and blocked["following"] is False


def test_instance_describes_the_server(api_client):
    v1 = api_client.get("/api/v1/instance")
    assert v1.status_code == 200
    body = v1.json()
    assert body["configuration"]["statuses"]["max_characters"] == 280
    assert body["configuration"]["statuses"]["max_media_attachments"] == 4
    assert body["configuration"]["media_attachments"]["image_size_limit"] == 10 * 1024 * 1024
    assert {"uri", "title", "version", "urls", "stats", "languages", "rules"} <= set(body)
    v2 = api_client.get("/api/v2/instance").json()
    assert {"domain", "title", "version", "usage", "configuration", "registrations", "contact", "rules"} <= set(v2)
    assert v2["configuration"]["statuses"]["max_characters"] == 280
    assert api_client.get("/api/v1/custom_emojis").json() == []


def test_the_openapi_schema_lists_the_mastodon_endpoints(api_client):
    paths = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in ("/api/v1/timelines/home", "/api/v1/statuses", "/api/v1/statuses/{status_id}",
                 "/api/v1/statuses/{status_id}/reblog", "/api/v1/accounts/{account_id}/follow",
                 "/api/v1/accounts/relationships", "/api/v2/instance"):
        assert path in paths, path
