"""Statuses through Mastodon's API: posting, Idempotency-Key, deleting, threads, favourites, reblogs."""

import pytest

from feed.models import Favourite, Status
from tests.feed.helpers import follow, post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

STATUS_FIELDS = {
    "id", "uri", "url", "created_at", "edited_at", "account", "content", "text", "visibility", "sensitive",
    "spoiler_text", "language", "in_reply_to_id", "in_reply_to_account_id", "reblog", "application",
    "media_attachments", "mentions", "tags", "emojis", "card", "poll", "replies_count", "reblogs_count",
    "favourites_count", "favourited", "reblogged", "muted", "bookmarked", "pinned", "filtered",
}
ACCOUNT_FIELDS = {
    "id", "username", "acct", "url", "uri", "display_name", "note", "avatar", "avatar_static", "header",
    "header_static", "locked", "fields", "emojis", "bot", "group", "discoverable", "indexable", "noindex",
    "hide_collections", "moved", "suspended", "limited", "memorial", "roles", "created_at", "last_status_at",
    "statuses_count", "followers_count", "following_count",
}
TOO_BIG = "9" * 25  # past 64 bits


# --- posting --------------------------------------------------------------------------------
def test_posting_returns_a_mastodon_status_with_every_field(alice, make_user, as_user):
    make_user("bob")
    status = post(as_user(alice), "Hi @bob, see https://example.com/a?b=1&c=<2> #Launch\n\nbye <b>")
    assert set(status) == STATUS_FIELDS
    assert set(status["account"]) == ACCOUNT_FIELDS
    assert isinstance(status["id"], str) and int(status["id"]) > 2**40
    assert status["account"]["id"] == str(alice.id) and status["account"]["acct"] == "alice"
    assert status["visibility"] == "public" and status["reblog"] is None
    assert status["created_at"].endswith("Z") and len(status["created_at"]) == 24
    assert status["media_attachments"] == [] and status["emojis"] == [] and status["poll"] is None
    content = status["content"]
    assert content.startswith("<p>") and "<b>" not in content and "&lt;b&gt;" in content
    assert '<a href="https://example.com/a?b=1&amp;c=" rel="nofollow noopener noreferrer"' in content
    assert 'class="u-url mention">@<span>bob</span></a>' in content
    assert 'rel="tag">#<span>Launch</span></a>' in content
    assert [m["username"] for m in status["mentions"]] == ["bob"]
    assert status["tags"] == [{"name": "launch", "url": "http://127.0.0.1:8000/tags/launch"}]


def test_a_status_can_be_posted_as_a_form(alice, as_user):
    response = as_user(alice).post("/api/v1/statuses", {"status": "from a form", "visibility": "unlisted"})
    assert response.status_code == 200
    assert response.json()["visibility"] == "unlisted"
    assert Status.objects.get(id=response.json()["id"]).text == "from a form"


@pytest.mark.parametrize(("data", "field"), [
    ({"status": ""}, "status"),
    ({"status": "   "}, "status"),
    ({}, "status"),
    ({"status": "x" * 281}, "status"),
    ({"status": 12}, "status"),
    ({"status": "hi", "visibility": "direct"}, "visibility"),
    ({"status": "hi", "in_reply_to_id": "123"}, "in_reply_to_id"),
    ({"status": "hi", "in_reply_to_id": "abc"}, "in_reply_to_id"),
    ({"status": "hi", "in_reply_to_id": TOO_BIG}, "in_reply_to_id"),
    ({"status": "hi", "media_ids": ["1"]}, "media_ids"),
])
def test_a_bad_status_is_422_naming_the_field(alice, as_user, data, field):
    response = as_user(alice).post("/api/v1/statuses", data, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("Validation failed") and field in body["fields"]
    assert not Status.objects.exists()


def test_280_characters_are_accepted(alice, as_user):
    assert post(as_user(alice), "é" * 280)["content"] == "<p>" + "é" * 280 + "</p>"


def test_posting_requires_a_valid_token(api_client):
    assert api_client.post("/api/v1/statuses", {"status": "x"}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = api_client.post("/api/v1/statuses", {"status": "x"}, format="json")
    assert response.status_code == 401 and response.json()["error"]


def test_idempotency_key_returns_the_first_status(alice, bob, as_user):
    a = as_user(alice)
    first = a.post("/api/v1/statuses", {"status": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    again = a.post("/api/v1/statuses", {"status": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert again["id"] == first["id"]
    other = a.post("/api/v1/statuses", {"status": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2").json()
    assert other["id"] != first["id"]
    bobs = as_user(bob).post("/api/v1/statuses", {"status": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert bobs["id"] != first["id"]  # keys are per account
    assert Status.objects.filter(account=alice).count() == 2
    assert a.get(f"/api/v1/accounts/{alice.id}").json()["statuses_count"] == 2


def test_concurrent_retries_with_one_idempotency_key_store_one_status(alice, client_for):
    clients = [client_for(alice) for _ in range(4)]

    def send(i):
        return clients[i].post("/api/v1/statuses", {"status": "retry"}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    responses = run_concurrently(send, 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.json()["id"] for r in responses}) == 1
    assert Status.objects.filter(account=alice).count() == 1


# --- reading and deleting ----------------------------------------------------------------------
def test_ids_that_cannot_exist_are_404(alice, as_user):
    a = as_user(alice)
    for path in (f"/api/v1/statuses/{TOO_BIG}", "/api/v1/statuses/abc", "/api/v1/statuses/0",
                 f"/api/v1/statuses/{2**63}", f"/api/v1/accounts/{TOO_BIG}", f"/api/v1/accounts/{TOO_BIG}/statuses",
                 f"/api/v1/statuses/{TOO_BIG}/context"):
        response = a.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "Record not found"
    for path in (f"/api/v1/statuses/{TOO_BIG}/favourite", f"/api/v1/accounts/{TOO_BIG}/follow"):
        assert a.post(path).status_code == 404, path
    assert a.delete(f"/api/v1/statuses/{TOO_BIG}").status_code == 404


def test_deleting_someone_elses_status_is_404_and_keeps_it(alice, bob, as_user):
    status = post(as_user(bob), "mine")["id"]
    response = as_user(alice).delete(f"/api/v1/statuses/{status}")
    assert response.status_code == 404
    assert response.json()["error"] == "Record not found"
    assert Status.objects.get(id=status).deleted_at is None
    assert as_user(alice).get(f"/api/v1/statuses/{status}").status_code == 200


def test_deleting_returns_the_source_text_and_counts_down(alice, as_user):
    a = as_user(alice)
    status = post(a, "delete & redraft")["id"]
    response = a.delete(f"/api/v1/statuses/{status}")
    assert response.status_code == 200
    assert response.json()["text"] == "delete & redraft"
    assert a.get(f"/api/v1/statuses/{status}").status_code == 404
    assert a.delete(f"/api/v1/statuses/{status}").status_code == 404
    assert a.get(f"/api/v1/accounts/{alice.id}").json()["statuses_count"] == 0


def test_a_status_is_public_without_a_token(alice, api_client, as_user):
    status = post(as_user(alice), "public")["id"]
    response = api_client.get(f"/api/v1/statuses/{status}")
    assert response.status_code == 200
    assert response.json()["favourited"] is False


def test_context_lists_visible_ancestors_and_descendants_depth_first(alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    root = post(a, "root")["id"]
    r1 = post(b, "r1", in_reply_to_id=root)
    assert r1["in_reply_to_id"] == root and r1["in_reply_to_account_id"] == str(alice.id)
    r1 = r1["id"]
    r2 = post(c, "r2", in_reply_to_id=root)["id"]
    r11 = post(a, "r1.1", in_reply_to_id=r1)["id"]
    r111 = post(c, "r1.1.1", in_reply_to_id=r11)["id"]

    context = b.get(f"/api/v1/statuses/{r11}/context").json()
    assert [s["id"] for s in context["ancestors"]] == [root, r1]
    assert [s["id"] for s in context["descendants"]] == [r111]
    context = b.get(f"/api/v1/statuses/{root}/context").json()
    assert [s["id"] for s in context["descendants"]] == [r1, r11, r111, r2]
    assert a.get(f"/api/v1/statuses/{root}").json()["replies_count"] == 2

    b.post(f"/api/v1/accounts/{carol.id}/block")
    context = b.get(f"/api/v1/statuses/{root}/context").json()
    assert [s["id"] for s in context["descendants"]] == [r1, r11]  # carol's replies hidden from bob
    c.delete(f"/api/v1/statuses/{r2}")
    assert [s["id"] for s in a.get(f"/api/v1/statuses/{root}/context").json()["descendants"]] == [r1, r11, r111]


# --- favourites and reblogs ----------------------------------------------------------------------
def test_favourite_is_idempotent_and_shows_in_the_status(alice, bob, as_user):
    a = as_user(alice)
    status = post(as_user(bob), "like me")["id"]
    for _ in range(2):
        response = a.post(f"/api/v1/statuses/{status}/favourite")
        assert response.status_code == 200
        assert response.json()["favourited"] is True and response.json()["favourites_count"] == 1
    assert Favourite.objects.filter(status_id=status).count() == 1
    for _ in range(2):
        response = a.post(f"/api/v1/statuses/{status}/unfavourite")
        assert response.json()["favourited"] is False and response.json()["favourites_count"] == 0


def test_concurrent_favourites_by_one_account_count_once(alice, bob, as_user, client_for):
    status = post(as_user(bob), "race")["id"]
    clients = [client_for(alice) for _ in range(4)]
    responses = run_concurrently(lambda i: clients[i].post(f"/api/v1/statuses/{status}/favourite"), 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert Favourite.objects.filter(status_id=status).count() == 1
    assert as_user(bob).get(f"/api/v1/statuses/{status}").json()["favourites_count"] == 1


def test_concurrent_reblogs_by_one_account_make_one_reblog(alice, bob, as_user, client_for):
    status = post(as_user(bob), "race")["id"]
    clients = [client_for(alice) for _ in range(4)]
    responses = run_concurrently(lambda i: clients[i].post(f"/api/v1/statuses/{status}/reblog"), 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.json()["id"] for r in responses}) == 1
    assert Status.objects.filter(reblog_of_id=status, deleted_at__isnull=True).count() == 1
    shown = as_user(bob).get(f"/api/v1/statuses/{status}").json()
    assert shown["reblogs_count"] == 1
    assert as_user(bob).get(f"/api/v1/accounts/{alice.id}").json()["statuses_count"] == 1


def test_reblog_wraps_the_original_and_unreblog_undoes_it(alice, bob, as_user):
    a = as_user(alice)
    status = post(as_user(bob), "share me")["id"]
    reblog = a.post(f"/api/v1/statuses/{status}/reblog").json()
    assert reblog["reblog"]["id"] == status and reblog["account"]["id"] == str(alice.id)
    assert reblog["reblogged"] is True and reblog["reblog"]["reblogs_count"] == 1 and reblog["content"] == ""
    # acting on the reblog acts on the original
    assert a.post(f"/api/v1/statuses/{reblog['id']}/favourite").json()["id"] == status
    assert a.post(f"/api/v1/statuses/{reblog['id']}/reblog").json()["id"] == reblog["id"]
    undone = a.post(f"/api/v1/statuses/{status}/unreblog")
    assert undone.status_code == 200
    assert undone.json()["id"] == status and undone.json()["reblogged"] is False
    assert undone.json()["reblogs_count"] == 0
    assert a.post(f"/api/v1/statuses/{status}/unreblog").status_code == 200
    assert a.get(f"/api/v1/statuses/{reblog['id']}").status_code == 404
    assert a.post(f"/api/v1/statuses/{status}/reblog", {"visibility": "private"}, format="json").status_code == 422


def test_favourited_by_and_reblogged_by_list_accounts_with_paging(alice, bob, carol, as_user):
    status = post(as_user(alice), "popular")["id"]
    for user in (bob, carol):
        as_user(user).post(f"/api/v1/statuses/{status}/favourite")
    as_user(carol).post(f"/api/v1/statuses/{status}/reblog")
    response = as_user(alice).get(f"/api/v1/statuses/{status}/favourited_by", {"limit": 1})
    assert [a["username"] for a in response.json()] == ["carol"]
    assert 'rel="next"' in response["Link"]
    next_url = response["Link"].split(">")[0].lstrip("<")
    assert [a["username"] for a in as_user(alice).get(next_url).json()] == ["bob"]
    reblogged = as_user(alice).get(f"/api/v1/statuses/{status}/reblogged_by").json()
    assert [a["username"] for a in reblogged] == ["carol"]


def test_a_blocked_account_cannot_see_or_act_on_the_blockers_statuses(alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    status = post(a, "not for bob")["id"]
    a.post(f"/api/v1/accounts/{bob.id}/block")
    for action in ("favourite", "reblog"):
        assert b.post(f"/api/v1/statuses/{status}/{action}").status_code == 404
    assert b.get(f"/api/v1/statuses/{status}").status_code == 404
    reply = b.post("/api/v1/statuses", {"status": "hey", "in_reply_to_id": status}, format="json")
    assert reply.status_code == 422
    assert b.get(f"/api/v1/accounts/{alice.id}/statuses").json() == []


def test_flags_and_counts_follow_the_viewer(alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    follow(a, bob)
    status = post(b, "x")["id"]
    a.post(f"/api/v1/statuses/{status}/favourite")
    assert a.get(f"/api/v1/statuses/{status}").json()["favourited"] is True
    assert b.get(f"/api/v1/statuses/{status}").json()["favourited"] is False


# --- enqueuing after commit ---------------------------------------------------------------------
def _feed_enqueue_failures(task: str) -> int:
    import re

    from core.metrics import recorder, render

    recorder.flush()
    pattern = rf'^task_enqueue_failures_total{{app="feed",task="{re.escape(task)}"}} (\d+)$'
    match = re.search(pattern, render(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def test_a_post_whose_fanout_cannot_be_enqueued_is_saved_and_counted_in_metrics(alice, as_user, monkeypatch):
    from feed import tasks

    def broker_down(**kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.fanout_status, "delay", broker_down)
    before = _feed_enqueue_failures(tasks.fanout_status.name)

    status = post(as_user(alice), "still saved")

    assert Status.objects.filter(id=int(status["id"]), deleted_at__isnull=True).exists()
    assert _feed_enqueue_failures(tasks.fanout_status.name) == before + 1
