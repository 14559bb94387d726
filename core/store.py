"""Redis keys owned by core: snowflake worker leases, rate limits, metrics, the token cache."""

import hashlib


def snowflake_worker_key(worker_id: int) -> str:
    return f"core:snowflake:worker:{worker_id}"


def ratelimit_key(scope: str, identity: str) -> str:
    return f"core:ratelimit:{scope}:{identity}"


METRICS_REQUESTS_KEY = "core:metrics:requests"  # hash: "<route>|<method>|<status>" -> count
METRICS_LATENCY_KEY = "core:metrics:latency"  # hash: "<route>|<le>" -> count, "<route>|sum" -> seconds
SHORT_CODE_SEQUENCE_KEY = "core:codes:sequence"  # string: the next unallocated short-code counter value
METRICS_COUNTERS_KEY = "core:metrics:counters"  # hash: "<name>|<rendered labels>" -> count


# API tokens resolved to user ids (see core.tokens). Keyed by a digest: a Redis dump never shows a key.
TOKEN_CACHE_TTL = 30  # seconds a resolved token is trusted without asking its source again
TOKEN_NEGATIVE_TTL = 5  # unknown keys, and keys just invalidated (a racing fill cannot resurrect them)
TOKEN_UNKNOWN = b"-"  # the cached value of a key no source knows


def token_cache_key(key: str) -> str:
    return f"core:token:{hashlib.sha256(key.encode()).hexdigest()}"


def token_user_index_key(user_id: int) -> str:
    """Set of the token cache keys currently resolving to this user (dropped when they are deactivated)."""
    return f"core:token:user:{user_id}"


# Browser sessions that ended (logout) and users whose every session ended (deactivation, new password):
# an open WebSocket authenticated by a session cookie checks these (see core.sessions).
def session_ended_key(session_key: str) -> str:
    return f"core:session:ended:{hashlib.sha256(session_key.encode()).hexdigest()}"


def user_sessions_ended_key(user_id: int) -> str:
    """Unix time at which every session of this user ended; sockets opened before it are closed."""
    return f"core:session:user:{user_id}"
