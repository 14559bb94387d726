"""Token-bucket rate limiting in Redis, shared by API views and consumers.

One Lua script refills and takes a token atomically, so concurrent callers on
any number of processes see one consistent bucket.
"""

import hashlib
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings

from core.errors import ApplicationError, CoreError
from core.store import ratelimit_key

# KEYS[1] bucket hash; ARGV: capacity, refill per second, now (ms), cost
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) / 1000.0 * rate)
  ts = now
end
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', ts)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry_ms}
"""


@dataclass(frozen=True)
class RateLimit:
    """``limit`` actions per ``period`` seconds, with bursts up to ``limit``."""

    scope: str
    limit: int
    period: float

    @property
    def rate(self) -> float:
        return self.limit / self.period


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def check(rule: RateLimit, identity: str, *, cost: int = 1, client=None) -> Decision:
    from core.redis import get_redis

    client = client or get_redis()
    allowed, retry_ms = client.eval(
        _TOKEN_BUCKET, 1, ratelimit_key(rule.scope, identity),
        rule.limit, rule.rate, _now_ms(), cost,
    )
    return Decision(bool(allowed), int(retry_ms) / 1000)


async def acheck(rule: RateLimit, identity: str, *, cost: int = 1, client=None) -> Decision:
    if client is None:  # hot handlers pass theirs: no import statement on their path
        from core.redis import get_async_redis

        client = get_async_redis()
    allowed, retry_ms = await client.eval(
        _TOKEN_BUCKET, 1, ratelimit_key(rule.scope, identity),
        rule.limit, rule.rate, _now_ms(), cost,
    )
    return Decision(bool(allowed), int(retry_ms) / 1000)


def rate_limited_error(decision: Decision) -> ApplicationError:
    retry_after = max(1, int(decision.retry_after + 0.999))
    return ApplicationError(
        "Too many requests; slow down.", CoreError.RATE_LIMITED, status=429, retry_after=retry_after
    )


def enforce(rule: RateLimit, identity: str, *, cost: int = 1) -> None:
    """Raise a 429 ApplicationError (with Retry-After) when the bucket is empty."""
    decision = check(rule, identity, cost=cost)
    if not decision.allowed:
        raise rate_limited_error(decision)


def trusted_client_ip(remote: str, forwarded: str | None) -> str:
    """The caller's address, trusting X-Forwarded-For only from configured proxies."""
    remote = remote or "unknown"
    if forwarded and remote in settings.TRUSTED_PROXIES:
        return forwarded.split(",")[0].strip()
    return remote


def client_ip(request) -> str:
    return trusted_client_ip(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR"))


# Every check of a password (log-in page, admin log-in, API token) and every sign-up
# goes through ``enforce_credential_limits``: one bucket per client address and,
# when a username is given, one per username, so neither one address trying many
# names nor many addresses trying one name get more than a handful of guesses.
CREDENTIALS_PER_IP = RateLimit(scope="auth", limit=30, period=60)
CREDENTIALS_PER_USERNAME = RateLimit(scope="auth-user", limit=10, period=600)


def _username_identity(username: str) -> str:
    # Case and compatibility forms of one name share a bucket; hashing bounds the key.
    folded = unicodedata.normalize("NFKC", username).casefold()
    return hashlib.sha256(folded.encode()).hexdigest()[:32]


def enforce_credential_limits(request, username: str | None = None) -> None:
    """Raise a 429 ApplicationError when this client, or this username, has tried too often."""
    enforce(CREDENTIALS_PER_IP, client_ip(request))
    if username:
        enforce(CREDENTIALS_PER_USERNAME, _username_identity(username))
