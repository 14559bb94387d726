"""Synthetic feed data for benchmarks and demos: users, follows, posts, and the Redis state a live
system would have built (home timelines, followed celebrities, live counters).

Rows go in with bulk inserts; timelines are written the way the fan-out writes them (pipelined
pushes per author to batches of followers), so a seeded reader's timeline is what
``feed.services.fanout.home_rebuild`` would produce, and reads never start with a rebuild.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from core.errors import FieldError
from core.snowflake import next_id
from feed import store
from feed.models import FeedAccount, Follow, Status

User = get_user_model()

INSERT_BATCH = 2000
PUSH_BATCH = 1000  # readers per pipelined push, as the fan-out does
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class SeedPlan:
    """``users`` accounts named ``{prefix}{i}``; each follows ``follows_per_user`` others at random and
    posts ``posts_per_user`` times. The first ``popular`` accounts are also followed by
    ``popular_followers`` others each (all of them by default): authors with many followers, pushed or,
    past ``FEED_CELEBRITY_THRESHOLD``, pulled."""

    users: int
    follows_per_user: int = 0
    posts_per_user: int = 0
    popular: int = 0
    popular_followers: int | None = None
    prefix: str = "seed"
    password: str | None = None
    random_seed: int = 1

    def validate(self) -> None:
        if self.users < 1:
            raise FieldError({"users": "At least one user."})
        if not 0 <= self.follows_per_user < self.users:
            raise FieldError({"follows_per_user": f"Between 0 and {self.users - 1} (the other users)."})
        if self.posts_per_user < 0:
            raise FieldError({"posts_per_user": "Cannot be negative."})
        if not 0 <= self.popular <= self.users:
            raise FieldError({"popular": f"Between 0 and {self.users}."})
        if self.popular_followers is not None and not 0 <= self.popular_followers < self.users:
            raise FieldError({"popular_followers": f"Between 0 and {self.users - 1}."})
        if not self.prefix or not self.prefix.isidentifier():
            raise FieldError({"prefix": "Letters, digits and underscores, not starting with a digit."})


@dataclass(frozen=True)
class SeedResult:
    user_ids: list[int]
    follows: int
    statuses: int
    celebrities: list[int]


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _follow_pairs(plan: SeedPlan) -> list[tuple[int, int]]:
    """(follower index, followee index) pairs, each once, never oneself."""
    rng = random.Random(plan.random_seed)
    followees: list[set[int]] = [set() for _ in range(plan.users)]
    wanted = plan.users - 1 if plan.popular_followers is None else plan.popular_followers
    for author in range(plan.popular):
        order = [*range(plan.popular, plan.users), *range(plan.popular)]
        for follower in [i for i in order if i != author][:wanted]:
            followees[follower].add(author)
    for follower in range(plan.users):
        while len(followees[follower]) < plan.follows_per_user:
            candidate = rng.randrange(plan.users)
            if candidate != follower:
                followees[follower].add(candidate)
    return [(follower, followee) for follower in range(plan.users) for followee in sorted(followees[follower])]


def _create_users(plan: SeedPlan, progress: Progress) -> list[int]:
    names = [f"{plan.prefix}{i}" for i in range(plan.users)]
    if User.objects.filter(username__regex=rf"^{plan.prefix}[0-9]+$").exists():
        raise FieldError({"prefix": f"Users named {plan.prefix}<n> exist already; choose another prefix."})
    password = make_password(plan.password)  # hashed once: every seeded user shares it
    for done, batch in enumerate(_batches(names, INSERT_BATCH), 1):
        User.objects.bulk_create([User(username=name, password=password) for name in batch])
        progress("users", min(done * INSERT_BATCH, len(names)), len(names))
    by_name = dict(User.objects.filter(username__startswith=plan.prefix).values_list("username", "id"))
    return [by_name[name] for name in names]


def feed_seed(plan: SeedPlan, progress: Progress = _quiet) -> SeedResult:
    """Create the plan's users, follows and posts, then their Redis timelines and counters.

    Every seeded reader counts as active now (they get pushes from here on). Raises FieldError for
    an impossible plan or a prefix already in use. Not for production data: no rate limits, no
    per-post fan-out tasks.
    """
    plan.validate()
    now = timezone.now()
    pairs = _follow_pairs(plan)
    with transaction.atomic():
        ids = _create_users(plan, progress)
        followers_of: dict[int, list[int]] = defaultdict(list)
        for follower, followee in pairs:
            followers_of[ids[followee]].append(ids[follower])
        follows = [Follow(id=next_id(), follower_id=ids[a], followee_id=ids[b]) for a, b in pairs]
        for done, batch in enumerate(_batches(follows, INSERT_BATCH), 1):
            Follow.objects.bulk_create(batch)
            progress("follows", min(done * INSERT_BATCH, len(follows)), len(follows))

        # Round by round, so a timeline interleaves its authors as real posting would.
        posts = [Status(id=next_id(), account_id=author, text=f"Post {k + 1} by {plan.prefix}{index} #seed")
                 for k in range(plan.posts_per_user) for index, author in enumerate(ids)]
        for done, batch in enumerate(_batches(posts, INSERT_BATCH), 1):
            Status.objects.bulk_create(batch)
            progress("posts", min(done * INSERT_BATCH, len(posts)), len(posts))

        following = defaultdict(int)
        for follower, _ in pairs:
            following[ids[follower]] += 1
        celebrities = [a for a in ids if len(followers_of[a]) > settings.FEED_CELEBRITY_THRESHOLD]
        celebrity_set = set(celebrities)
        counts = {a: {"followers_count": len(followers_of[a]), "following_count": following[a],
                      "statuses_count": plan.posts_per_user} for a in ids}
        accounts = [FeedAccount(user_id=a, last_read_at=now, last_status_at=now if plan.posts_per_user else None,
                                is_celebrity=a in celebrity_set, **counts[a]) for a in ids]
        for done, batch in enumerate(_batches(accounts, INSERT_BATCH), 1):
            FeedAccount.objects.bulk_create(batch)
            progress("accounts", min(done * INSERT_BATCH, len(accounts)), len(accounts))
    _analyze([User, Follow, Status, FeedAccount])
    _build_redis(ids, posts, followers_of, celebrities, counts, progress)
    return SeedResult(user_ids=ids, follows=len(pairs), statuses=len(posts), celebrities=celebrities)


def _analyze(models) -> None:
    """Refresh the planner's statistics of the tables just bulk-loaded. Autovacuum would, some time
    later; until then PostgreSQL plans the fan-out's keyset query for the handful of rows its stale
    statistics promise, and walks every follow of the author for each batch (50 times slower at
    50,000 followers)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _build_redis(ids, posts, followers_of, celebrities, counts, progress: Progress) -> None:
    posts_of: dict[int, list[store.Entry]] = defaultdict(list)
    for status in posts:  # oldest first, as published
        posts_of[status.account_id].append((status.id, None))
    celebrity_set = set(celebrities)
    deliveries = sum(len(followers_of[a]) for a in ids if a not in celebrity_set) + len(ids)
    done = 0
    for authors in _batches(ids, PUSH_BATCH):  # each author's own timeline holds their posts
        store.timelines_push_many(([author], posts_of[author][-store.RECENT_MAX:]) for author in authors)
        done += len(authors)
        progress("timelines", done, deliveries)
    for author in ids:
        entries = posts_of[author][-store.RECENT_MAX:]
        if author in celebrity_set:
            store.recent_fill(author, [status_id for status_id, _ in entries])
            for batch in _batches(followers_of[author], PUSH_BATCH):
                store.celebrity_add(batch, author)
            continue
        for batch in _batches(followers_of[author], PUSH_BATCH):
            store.timelines_push(batch, entries)
            done += len(batch)
            progress("timelines", done, deliveries)
    for done_ready, batch in enumerate(_batches(ids, PUSH_BATCH), 1):
        store.timelines_mark_ready(batch)
        store.counters_set("a", {a: counts[a] for a in batch})
        progress("ready", min(done_ready * PUSH_BATCH, len(ids)), len(ids))
    zero = {"favourites_count": 0, "reblogs_count": 0, "replies_count": 0}
    for done_posts, batch in enumerate(_batches(posts, PUSH_BATCH * 5), 1):
        store.counters_set("s", {status.id: zero for status in batch})
        progress("counters", min(done_posts * PUSH_BATCH * 5, len(posts)), len(posts))
