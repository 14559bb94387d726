"""Mastodon's rate limits, with the ``X-RateLimit-*`` headers its clients read.

Fixed windows counted in Redis (one atomic ``INCR`` per action, so concurrent callers never
exceed the limit together): every API call (``FEED_API_PER_5MIN`` per account or address per
5 minutes), statuses (``FEED_STATUSES_PER_3H`` per account per 3 hours) and follows
(``FEED_FOLLOWS_PER_DAY`` per account per 24 hours), Mastodon's defaults.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings

from feed import errors, store


@dataclass(frozen=True)
class Rule:
    scope: str
    setting: str
    period: int

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.setting))


API = Rule("api", "FEED_API_PER_5MIN", 5 * 60)
STATUSES = Rule("statuses", "FEED_STATUSES_PER_3H", 3 * 3600)
FOLLOWS = Rule("follows", "FEED_FOLLOWS_PER_DAY", 24 * 3600)


@dataclass(frozen=True)
class LimitState:
    limit: int
    remaining: int
    reset: int  # Unix time the window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": _timestamp(self.reset),
        }


@lru_cache(maxsize=64)
def _timestamp(unix_time: int) -> str:
    moment = datetime.fromtimestamp(unix_time, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def account_identity(account_id) -> str:
    """Whose actions a signed-in caller's limits count (``ip…`` for anonymous callers)."""
    return f"a{account_id}"


def limit_take(rule: Rule, identity: str) -> LimitState:
    """Count one action against ``rule`` for ``identity``; returns the state for the headers.
    Raises a 429 ApplicationError (with Retry-After and the state as ``limit_state``) past the
    limit."""
    now = time.time()
    count, reset = store.ratelimit_hit(rule.scope, identity, rule.period, now=now)
    return limit_counted(rule, count, reset, now=now)


def limit_counted(rule: Rule, count: int, reset: int, *, now: float) -> LimitState:
    """``limit_take``'s answer once the action was counted (``count`` in the window ending at
    ``reset``), for callers that counted it themselves (the hot home read, in its script)."""
    state = LimitState(rule.limit, max(0, rule.limit - count), reset)
    if count > rule.limit:
        error = errors.rate_limited(max(1, int(reset - now + 0.999)))
        error.limit_state = state
        raise error
    return state
