"""Redis keys owned by core: snowflake worker leases, rate limits, metrics."""


def snowflake_worker_key(worker_id: int) -> str:
    return f"core:snowflake:worker:{worker_id}"


def ratelimit_key(scope: str, identity: str) -> str:
    return f"core:ratelimit:{scope}:{identity}"


METRICS_REQUESTS_KEY = "core:metrics:requests"  # hash: "<route>|<method>|<status>" -> count
METRICS_LATENCY_KEY = "core:metrics:latency"  # hash: "<route>|<le>" -> count, "<route>|sum" -> seconds
SHORT_CODE_SEQUENCE_KEY = "core:codes:sequence"  # string: the next unallocated short-code counter value
METRICS_COUNTERS_KEY = "core:metrics:counters"  # hash: "<name>|<rendered labels>" -> count
