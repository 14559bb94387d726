"""Django admin of the feed: deletes and follows go through the services, so timelines follow."""

import pytest

from feed.models import Block, Follow, Mute, Status
from tests.feed.helpers import activate, follow, home_ids, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(make_user):
    from django.test import Client

    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_status_changelist_searches_text_and_author(staff, alice, bob, as_user):
    post(as_user(alice), "a needle in the feed")
    post(as_user(bob), "nothing here")
    response = staff.get("/admin/feed/status/", {"q": "needle"})
    assert response.status_code == 200
    assert b"a needle in the feed" in response.content and b"nothing here" not in response.content
    response = staff.get("/admin/feed/status/", {"q": "bob"})
    assert b"nothing here" in response.content and b"needle" not in response.content


def test_statuses_cannot_be_added_or_edited_in_the_admin(staff, alice, as_user):
    status_id = post(as_user(alice), "as written")["id"]
    assert staff.get("/admin/feed/status/add/").status_code == 403
    response = staff.post(f"/admin/feed/status/{status_id}/change/", {"text": "rewritten", "visibility": "public"})
    assert response.status_code == 403
    assert Status.objects.get(id=status_id).text == "as written"


def test_deleting_a_status_in_the_admin_removes_it_from_followers_timelines(staff, alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    activate(a)
    follow(a, bob)
    status_id = post(b, "soon gone")["id"]
    assert home_ids(a) == [status_id]

    response = staff.post(f"/admin/feed/status/{status_id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    status = Status.objects.get(id=status_id)
    assert status.deleted_at is not None  # soft: the fan-out could clean up every timeline
    assert home_ids(a) == []
    assert a.get(f"/api/v1/statuses/{status_id}").status_code == 404
    assert b.get(f"/api/v1/accounts/{bob.id}").json()["statuses_count"] == 0


def test_bulk_delete_action_goes_through_the_service_and_skips_deleted_ones(staff, alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    activate(a)
    follow(a, bob)
    ids = [post(b, f"post {i}")["id"] for i in range(3)]
    b.delete(f"/api/v1/statuses/{ids[0]}")

    actions = [name for name, _ in staff.get("/admin/feed/status/").context["action_form"].fields["action"].choices]
    assert "delete_through_service" in actions and "delete_selected" not in actions  # no bulk row delete
    response = staff.post("/admin/feed/status/", {"action": "delete_through_service", "_selected_action": ids[:2]})
    assert response.status_code == 302
    assert home_ids(a) == [ids[2]]
    assert Status.objects.filter(id__in=ids, deleted_at__isnull=False).count() == 2
    assert Status.objects.count() == 3  # rows stay, as tombstones
    assert b.get(f"/api/v1/accounts/{bob.id}").json()["statuses_count"] == 1


def test_a_follow_added_in_the_admin_merges_posts_and_counts(staff, alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    activate(a)
    status_id = post(b, "before the follow")["id"]

    response = staff.post("/admin/feed/follow/add/", {"follower": alice.id, "followee": bob.id})
    assert response.status_code == 302, response.content
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
    assert home_ids(a) == [status_id]
    assert a.get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 1


def test_the_admin_refuses_a_self_follow_and_a_follow_across_a_block(staff, alice, bob, as_user):
    response = staff.post("/admin/feed/follow/add/", {"follower": alice.id, "followee": alice.id})
    assert response.status_code == 200 and b"cannot do this to itself" in response.content
    as_user(bob).post(f"/api/v1/accounts/{alice.id}/block")
    response = staff.post("/admin/feed/follow/add/", {"follower": alice.id, "followee": bob.id})
    assert response.status_code == 200 and b"blocks the other" in response.content
    assert not Follow.objects.exists()


def test_deleting_a_follow_in_the_admin_unmerges_posts_and_counts(staff, alice, bob, as_user):
    a, b = as_user(alice), as_user(bob)
    activate(a)
    follow(a, bob)
    post(b, "from bob")
    follow_row = Follow.objects.get(follower=alice, followee=bob)

    response = staff.post(f"/admin/feed/follow/{follow_row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Follow.objects.exists()
    assert home_ids(a) == []
    assert a.get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 0


def test_blocks_and_mutes_added_in_the_admin_hide_posts(staff, alice, bob, carol, as_user):
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    follow(a, bob)
    follow(a, carol)
    post(b, "from bob")
    carol_post = post(c, "from carol")["id"]

    assert staff.post("/admin/feed/block/add/", {"account": alice.id, "target": bob.id}).status_code == 302
    assert Block.objects.filter(account=alice, target=bob).exists()
    assert not Follow.objects.filter(follower=alice, followee=bob).exists()  # the block ended the follow
    assert home_ids(a) == [carol_post]

    assert staff.post("/admin/feed/mute/add/", {"account": alice.id, "target": carol.id}).status_code == 302
    assert Mute.objects.filter(account=alice, target=carol).exists()
    assert home_ids(a) == []
    mute = Mute.objects.get()
    assert staff.post(f"/admin/feed/mute/{mute.pk}/delete/", {"post": "yes"}).status_code == 302
    assert home_ids(a) == [carol_post]


@pytest.fixture
def uploaded(alice, as_user, settings, tmp_path):
    from tests.feed.test_media import image_file, upload

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    response = upload(as_user(alice), image_file(size=(400, 300)), description="a red square")
    assert response.status_code == 200, response.content
    return response.json()


def test_media_is_listed_with_its_thumbnail_and_cannot_be_added_or_deleted(staff, uploaded):
    assert staff.get("/admin/feed/mediaattachment/", {"q": "red square"}).status_code == 200
    page = staff.get(f"/admin/feed/mediaattachment/{uploaded['id']}/change/")
    assert page.status_code == 200
    assert b'alt="a red square"' in page.content and b"<img" in page.content
    assert staff.get("/admin/feed/mediaattachment/add/").status_code == 403
    assert staff.post(f"/admin/feed/mediaattachment/{uploaded['id']}/delete/", {"post": "yes"}).status_code == 403


def test_alt_text_edited_in_the_admin_goes_through_the_service(staff, uploaded, alice, as_user):
    response = staff.post(f"/admin/feed/mediaattachment/{uploaded['id']}/change/", {"description": "a red box"})
    assert response.status_code == 302, response.content
    media = as_user(alice).get(f"/api/v1/media/{uploaded['id']}").json()
    assert media["description"] == "a red box"
    too_long = staff.post(f"/admin/feed/mediaattachment/{uploaded['id']}/change/", {"description": "x" * 1501})
    assert too_long.status_code == 200 and b"errorlist" in too_long.content  # the form refuses it, no 500
