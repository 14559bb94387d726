"""The location history on its way to PostgreSQL: a Redis Stream drained in batches by a consumer group.

- ``rides:locations:stream``: one entry per location write (an HTTP post of up to 50 points, or
  the frames of a driver's socket written together), appended by the write itself
  (``positions.driver_locate``): ``d`` the driver, ``t`` the server's time of the write (epoch
  seconds, the time of points that carry none), ``p`` the points as a location body
  (``{"points": [...]}`` or one point), exactly as ``services.drivers.parse_points`` accepted them.
  Capped at ``LOCATION_STREAM_MAXLEN`` entries (``XADD MAXLEN ~``): if the consumer stays away
  that long, the oldest history goes first; the positions dispatch reads never depend on it.
- consumer group ``rides-locations``: entries are acknowledged and deleted once their rows are
  committed; those a dead consumer read and never acknowledged are claimed after
  ``LOCATION_CLAIM_IDLE_MS``.
"""

from __future__ import annotations

import redis

from core.redis import get_redis

LOCATION_STREAM_KEY = "rides:locations:stream"
LOCATION_GROUP = "rides-locations"
# About 20 s of writes at 5,000 a second (each up to 50 points, a few KB): Redis memory stays bounded.
LOCATION_STREAM_MAXLEN = 100_000
LOCATION_CLAIM_IDLE_MS = 30_000


def _group_ensure(client) -> None:
    try:
        client.xgroup_create(LOCATION_STREAM_KEY, LOCATION_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decoded(entries) -> list[tuple[str, dict[str, str]]]:
    return [(entry_id.decode(), {k.decode(): v.decode(errors="replace") for k, v in fields.items()})
            for entry_id, fields in entries if fields is not None]


def history_read(consumer: str, count: int) -> list[tuple[str, dict[str, str]]]:
    """Up to ``count`` entries never delivered to the group, oldest first (the group is made if missing)."""
    client = get_redis()
    try:
        response = client.xreadgroup(LOCATION_GROUP, consumer, {LOCATION_STREAM_KEY: ">"}, count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        _group_ensure(client)
        response = client.xreadgroup(LOCATION_GROUP, consumer, {LOCATION_STREAM_KEY: ">"}, count=count)
    return _decoded(response[0][1]) if response else []


def history_claim_stale(consumer: str, count: int, min_idle_ms: int = LOCATION_CLAIM_IDLE_MS
                        ) -> list[tuple[str, dict[str, str]]]:
    """Entries another consumer read but never acknowledged for ``min_idle_ms`` (it died), now this one's."""
    client = get_redis()
    try:
        result = client.xautoclaim(LOCATION_STREAM_KEY, LOCATION_GROUP, consumer, min_idle_ms, "0-0", count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        _group_ensure(client)
        return []
    deleted = result[2] if len(result) > 2 else []
    if deleted:  # trimmed away by the cap while pending: nothing left to store
        client.xack(LOCATION_STREAM_KEY, LOCATION_GROUP, *deleted)
    return _decoded(result[1])


def history_ack(entry_ids: list[str]) -> None:
    """Acknowledge and drop stored entries: the stream only holds history still to be written."""
    if not entry_ids:
        return
    pipe = get_redis().pipeline(transaction=True)
    pipe.xack(LOCATION_STREAM_KEY, LOCATION_GROUP, *entry_ids)
    pipe.xdel(LOCATION_STREAM_KEY, *entry_ids)
    pipe.execute()


def history_length() -> int:
    return int(get_redis().xlen(LOCATION_STREAM_KEY))


def history_consumers_prune(idle_ms: int) -> list[str]:
    """Forget consumers (processes long gone) idle that long with nothing pending; returns their names."""
    client = get_redis()
    try:
        consumers = client.xinfo_consumers(LOCATION_STREAM_KEY, LOCATION_GROUP)
    except redis.ResponseError:
        return []
    pruned = []
    for consumer in consumers:
        if consumer["pending"] == 0 and consumer["idle"] >= idle_ms:
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            client.xgroup_delconsumer(LOCATION_STREAM_KEY, LOCATION_GROUP, name)
            pruned.append(name)
    return pruned
