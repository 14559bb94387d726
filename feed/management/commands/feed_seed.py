import time

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from feed.seeding import SeedPlan, feed_seed


class ProgressBar:
    """One line per stage on stderr, redrawn in place on a terminal (at most 10 times a second)."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream  # a command's OutputWrapper: write(text, ending="")
        self.stage = None
        self.drawn_at = 0.0
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.stage is not None:
                self.stream.write("\n", ending="")
            self.stage, self.started = stage, now
        elif done < total and now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        filled = self.WIDTH * done // total if total else self.WIDTH
        percent = 100 * done // total if total else 100
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{stage:<10} [{bar}] {percent:3d}% {done}/{total} {now - self.started:.1f}s", ending="")
        self.stream.flush()

    def close(self) -> None:
        if self.stage is not None:
            self.stream.write("\n", ending="")


class Command(BaseCommand):
    help = ("Create synthetic feed data (users, follows, posts) with bulk inserts and build their Redis "
            "timelines and counters, for benchmarks and demos.")

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True, help="Accounts to create, named <prefix><n>.")
        parser.add_argument("--follows-per-user", type=int, default=10, help="Random accounts each one follows.")
        parser.add_argument("--posts-per-user", type=int, default=5, help="Posts per account.")
        parser.add_argument("--popular", type=int, default=0,
                            help="The first accounts are also followed by --popular-followers others each.")
        parser.add_argument("--popular-followers", type=int, default=None,
                            help="Followers of each popular account (default: every other account).")
        parser.add_argument("--prefix", default="seed", help="Username prefix (default: seed).")
        parser.add_argument("--password", default=None, help="Password of every seeded account (default: none).")
        parser.add_argument("--random-seed", type=int, default=1)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        plan = SeedPlan(
            users=options["users"], follows_per_user=options["follows_per_user"],
            posts_per_user=options["posts_per_user"], popular=options["popular"],
            popular_followers=options["popular_followers"], prefix=options["prefix"], password=options["password"],
            random_seed=options["random_seed"],
        )
        bar = ProgressBar(self.stderr)
        started = time.monotonic()
        try:
            result = feed_seed(plan, progress=(lambda *a: None) if options["no_progress"] else bar)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        finally:
            bar.close()
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {len(result.user_ids)} users, {result.follows} follows, {result.statuses} posts "
            f"({len(result.celebrities)} celebrities) in {time.monotonic() - started:.1f}s."
        ))
