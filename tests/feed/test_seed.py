"""``manage.py feed_seed``: rows in bulk, timelines and counters in Redis as the fan-out would build them."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F

from feed import store
from feed.models import FeedAccount, Follow, Status
from feed.seeding import SeedPlan, feed_seed
from feed.services.fanout import home_rebuild

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def _seed(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("feed_seed", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_creates_users_follows_and_posts_with_a_progress_bar():
    out, err = _seed("--users", "12", "--follows-per-user", "3", "--posts-per-user", "2")
    assert "Seeded 12 users, 36 follows, 24 posts" in out
    for stage in ("users", "follows", "posts", "timelines", "counters"):
        assert f"\r{stage}" in err
    assert "100% 24/24" in err and "[" + "#" * 30 + "]" in err
    assert User.objects.filter(username__startswith="seed").count() == 12
    assert Follow.objects.count() == 36
    assert not Follow.objects.filter(follower_id=F("followee_id")).exists()
    assert Status.objects.count() == 24
    for user in User.objects.all():
        assert Follow.objects.filter(follower=user).count() == 3


def test_seeded_timelines_are_what_a_rebuild_from_the_database_makes(as_user):
    result = feed_seed(SeedPlan(users=15, follows_per_user=4, posts_per_user=3))
    for reader in result.user_ids[:5]:
        seeded = store.timeline_members(reader)
        assert store.timeline_is_ready(reader)
        assert len(seeded) == 3 * 5  # four followees and the reader, three posts each
        store.timeline_reset(reader)
        home_rebuild(reader_id=reader)
        assert store.timeline_members(reader) == seeded


def test_a_seeded_reader_reads_a_full_home_timeline_through_the_api(as_user):
    result = feed_seed(SeedPlan(users=10, follows_per_user=2, posts_per_user=4))
    reader = User.objects.get(id=result.user_ids[0])
    response = as_user(reader).get("/api/v1/timelines/home", {"limit": 40})
    assert response.status_code == 200  # ready: no rebuild, no 206
    statuses = response.json()
    assert len(statuses) == 12
    followed = {str(i) for i in Follow.objects.filter(follower=reader).values_list("followee_id", flat=True)}
    assert {s["account"]["id"] for s in statuses} == followed | {str(reader.id)}
    assert [s["id"] for s in statuses] == sorted((s["id"] for s in statuses), key=int, reverse=True)


def test_counters_are_live_in_redis_and_in_the_database(as_user):
    result = feed_seed(SeedPlan(users=6, follows_per_user=2, posts_per_user=3, popular=1))
    author = result.user_ids[0]
    assert FeedAccount.objects.get(user_id=author).followers_count == 5
    live = store.counters_get("a", [author])[author]
    assert live == {"followers_count": 5, "following_count": 2, "statuses_count": 3}
    account = as_user(User.objects.get(id=result.user_ids[1])).get(f"/api/v1/accounts/{author}").json()
    assert (account["followers_count"], account["statuses_count"]) == (5, 3)


def test_popular_authors_past_the_threshold_are_pulled_not_pushed(settings, as_user):
    settings.FEED_CELEBRITY_THRESHOLD = 4
    result = feed_seed(SeedPlan(users=8, follows_per_user=0, posts_per_user=2, popular=1))
    star = result.user_ids[0]
    assert result.celebrities == [star]
    assert FeedAccount.objects.get(user_id=star).is_celebrity
    reader = result.user_ids[3]
    star_posts = {s.id for s in Status.objects.filter(account_id=star)}
    assert not star_posts & set(store.timeline_members(reader))  # not pushed
    assert store.celebrities_of(reader) == [star]
    ids = {int(s["id"]) for s in as_user(User.objects.get(id=reader)).get("/api/v1/timelines/home").json()}
    assert star_posts <= ids  # pulled at read time


def test_popular_followers_limits_who_follows_the_popular_accounts():
    result = feed_seed(SeedPlan(users=10, popular=2, popular_followers=3))
    for author in result.user_ids[:2]:
        assert Follow.objects.filter(followee_id=author).count() == 3


@pytest.mark.parametrize(("args", "message"), [
    (["--users", "0"], "users"),
    (["--users", "3", "--follows-per-user", "3"], "follows_per_user"),
    (["--users", "3", "--posts-per-user", "-1", "--follows-per-user", "1"], "posts_per_user"),
    (["--users", "3", "--popular", "4", "--follows-per-user", "1"], "popular"),
    (["--users", "3", "--prefix", "1bad", "--follows-per-user", "1"], "prefix"),
])
def test_impossible_plans_are_refused_naming_the_option(args, message):
    with pytest.raises(CommandError, match=message):
        _seed(*args)
    assert not User.objects.exists()


def test_a_prefix_in_use_is_refused_and_nothing_is_written(make_user):
    make_user("seed3")
    with pytest.raises(CommandError, match="prefix"):
        _seed("--users", "5", "--follows-per-user", "2")
    assert User.objects.count() == 1 and not Status.objects.exists()
    out, _ = _seed("--users", "2", "--prefix", "other", "--follows-per-user", "1", "--posts-per-user", "1")
    assert "Seeded 2 users" in out


def test_seeded_users_can_log_in_with_the_given_password(client):
    _seed("--users", "2", "--follows-per-user", "1", "--password", "s3cure-Passphrase", "--no-progress")
    assert client.login(username="seed1", password="s3cure-Passphrase")
