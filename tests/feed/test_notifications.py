"""Notifications (follow, favourite, reblog, mention), content HTML, tag timelines and search."""

import pytest

from feed.models import Notification
from tests.feed.helpers import follow, post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def notifications(client, **params):
    response = client.get("/api/v1/notifications", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_follow_favourite_reblog_and_mention_notify_the_account(alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    follow(b, alice)
    status = post(a, "hello")
    b.post(f"/api/v1/statuses/{status['id']}/favourite")
    b.post(f"/api/v1/statuses/{status['id']}/reblog")
    mention = post(b, "hi @alice")
    got = notifications(a)
    assert [n["type"] for n in got] == ["mention", "reblog", "favourite", "follow"]
    assert all(n["account"]["username"] == "bob" for n in got)
    assert got[0]["status"]["id"] == mention["id"]
    assert got[1]["status"]["id"] == status["id"] and got[3]["status"] is None
    assert set(got[0]) >= {"id", "type", "created_at", "account", "status"}
    assert notifications(b) == []


def test_a_repeated_favourite_notifies_once_even_when_racing(alice, bob, as_user):
    status = post(as_user(alice), "hello")
    b = as_user(bob)
    b.post(f"/api/v1/statuses/{status['id']}/favourite")
    b.post(f"/api/v1/statuses/{status['id']}/unfavourite")
    run_concurrently(lambda i: as_user(bob).post(f"/api/v1/statuses/{status['id']}/favourite").status_code, 4)
    assert Notification.objects.filter(account=alice, type="favourite").count() == 1


def test_nobody_is_notified_of_their_own_actions_or_by_someone_they_mute(alice, bob, as_user):
    a = as_user(alice)
    status = post(a, "me @alice")
    a.post(f"/api/v1/statuses/{status['id']}/favourite")
    a.post(f"/api/v1/accounts/{bob.id}/mute")
    as_user(bob).post(f"/api/v1/statuses/{status['id']}/favourite")
    assert notifications(a) == []


def test_types_filter_and_paging_with_link_headers(alice, bob, carol, as_user):
    a = as_user(alice)
    status = post(a, "hello")
    for user in (bob, carol):
        follow(as_user(user), alice)
        as_user(user).post(f"/api/v1/statuses/{status['id']}/favourite")
    assert [n["type"] for n in notifications(a, **{"types[]": ["follow"]})] == ["follow", "follow"]
    assert [n["type"] for n in notifications(a, **{"exclude_types[]": ["follow"]})] == ["favourite", "favourite"]
    first = a.get("/api/v1/notifications", {"limit": 2})
    ids = [n["id"] for n in first.json()]
    assert 'rel="next"' in first["Link"] and f"max_id={ids[-1]}" in first["Link"]
    rest = notifications(a, max_id=ids[-1])
    assert len(rest) == 2 and all(int(n["id"]) < int(ids[-1]) for n in rest)
    newer = notifications(a, min_id=rest[0]["id"])
    assert [n["id"] for n in newer] == ids


def test_bad_notification_params_are_a_400_naming_them(alice, as_user):
    a = as_user(alice)
    response = a.get("/api/v1/notifications", {"types[]": "poll"})
    assert response.status_code == 400 and "types" in response.json()["fields"]
    response = a.get("/api/v1/notifications", {"max_id": str(2**64)})
    assert response.status_code == 400 and "max_id" in response.json()["fields"]


def test_dismiss_and_clear(alice, bob, carol, as_user):
    a = as_user(alice)
    follow(as_user(bob), alice)
    follow(as_user(carol), alice)
    first = notifications(a)[0]
    assert a.post(f"/api/v1/notifications/{first['id']}/dismiss").status_code == 200
    assert [n["id"] for n in notifications(a)] != [] and first["id"] not in [n["id"] for n in notifications(a)]
    assert a.post("/api/v1/notifications/clear").status_code == 200
    assert notifications(a) == []


def test_someone_elses_notification_cannot_be_dismissed_or_read(alice, bob, carol, as_user):
    follow(as_user(bob), alice)
    notification_id = notifications(as_user(alice))[0]["id"]
    c = as_user(carol)
    assert c.post(f"/api/v1/notifications/{notification_id}/dismiss").status_code == 404
    assert c.get(f"/api/v1/notifications/{notification_id}").status_code == 404
    assert c.post(f"/api/v1/notifications/{2**64}/dismiss").status_code == 404
    assert len(notifications(as_user(alice))) == 1


def test_a_notification_about_a_deleted_status_goes_away(alice, bob, as_user):
    status = post(as_user(alice), "hello")
    as_user(bob).post(f"/api/v1/statuses/{status['id']}/favourite")
    as_user(alice).delete(f"/api/v1/statuses/{status['id']}")
    assert notifications(as_user(alice)) == []


def test_notifications_need_their_scope(alice):
    from tests.feed.oauth_helpers import bearer, user_token

    assert bearer(user_token(alice, scope="read:statuses")).get("/api/v1/notifications").status_code == 403
    assert bearer(user_token(alice, scope="read:notifications")).get("/api/v1/notifications").status_code == 200


# --- content, hashtags, search ------------------------------------------------------------
def test_content_links_mentions_and_hashtags_and_escapes_the_rest(alice, bob, as_user):
    status = post(as_user(alice), "<b>hi</b> @bob see https://ex.com/a?b=1 #Django & @nobody")
    content = status["content"]
    assert "&lt;b&gt;hi&lt;/b&gt;" in content and "<b>" not in content
    assert 'href="https://ex.com/a?b=1"' in content
    assert 'class="u-url mention">@<span>bob</span></a>' in content
    assert 'rel="tag">#<span>Django</span></a>' in content
    assert "@nobody" in content and "&amp;" in content
    assert [m["username"] for m in status["mentions"]] == ["bob"]
    assert [t["name"] for t in status["tags"]] == ["django"]


def test_the_tag_timeline_shows_public_posts_with_the_tag(alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    first = post(a, "one #Python")
    post(b, "two #python", visibility="unlisted")
    third = post(b, "three #python #django")
    post(a, "no tag")
    response = b.get("/api/v1/timelines/tag/PYTHON")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [third["id"], first["id"]]
    page = b.get("/api/v1/timelines/tag/python", {"limit": 1})
    assert [s["id"] for s in page.json()] == [third["id"]] and f"max_id={third['id']}" in page["Link"]
    b.post(f"/api/v1/accounts/{alice.id}/block")
    assert [s["id"] for s in b.get("/api/v1/timelines/tag/python").json()] == [third["id"]]
    assert b.get("/api/v1/timelines/tag/" + "x" * 101).status_code == 400
    assert b.get("/api/v1/timelines/tag/a-b").status_code == 400


def test_search_finds_accounts_hashtags_and_statuses(alice, bob, as_user):
    a = as_user(alice)
    hit = post(as_user(bob), "The quick brown fox #Foxes")
    post(as_user(bob), "a slow turtle")
    post(as_user(bob), "quick but hidden", visibility="unlisted")
    result = a.get("/api/v2/search", {"q": "quick fox"}).json()
    assert [s["id"] for s in result["statuses"]] == [hit["id"]]
    assert a.get("/api/v2/search", {"q": "bo", "type": "accounts"}).json()["accounts"][0]["username"] == "bob"
    tags = a.get("/api/v2/search", {"q": "#fox", "type": "hashtags"}).json()
    assert tags["hashtags"][0]["name"] == "foxes" and tags["accounts"] == [] and tags["statuses"] == []


@pytest.mark.parametrize(("params", "field"), [
    ({"q": ""}, "q"), ({"q": "a", "type": "polls"}, "type"), ({"q": "a", "offset": "x"}, "offset"),
    ({"q": "a", "offset": "-1"}, "offset"), ({"q": "a" * 501}, "q"), ({"q": "a", "limit": "many"}, "limit"),
])
def test_bad_search_params_are_a_400_naming_them(alice, as_user, params, field):
    response = as_user(alice).get("/api/v2/search", params)
    assert response.status_code == 400 and field in response.json()["fields"]


def test_a_notifications_page_costs_the_same_queries_for_3_or_12(alice, make_user, as_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status = post(as_user(alice), "hello @alice #tag")
    for _ in range(6):
        fan = as_user(make_user())
        follow(fan, alice)
        fan.post(f"/api/v1/statuses/{status['id']}/favourite")
    a = as_user(alice)

    def count(limit: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert len(notifications(a, limit=limit)) == limit
        return len(queries)

    assert count(3) == count(12)


def test_a_tag_timeline_and_a_search_cost_the_same_queries_for_few_or_many(alice, as_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a = as_user(alice)
    for i in range(12):
        post(a, f"words {i} #many")

    def count(path: str, limit: int, **params) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = a.get(path, {"limit": limit, **params})
            assert response.status_code == 200
        return len(queries)

    assert count("/api/v1/timelines/tag/many", 3) == count("/api/v1/timelines/tag/many", 12)
    assert count("/api/v2/search", 3, q="words", type="statuses") == count("/api/v2/search", 12, q="words",
                                                                             type="statuses")
