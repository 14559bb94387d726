"""The entity cache: statuses and accounts as reads need them, so a warm read never asks the database.

``feed:entity:status:{id}`` (hash, ``STATUS_CACHE_TTL``):

- ``record``: the status's stored fields as JSON (``feed.selectors.status_records``); "" for an id
  the database does not have, so reads stop asking for it.
- ``account``, ``reblog_of`` (zero-padded like a timeline member, "" for a post) and ``deleted``
  ("1" or "0"): what filtering a timeline needs, readable from Lua without decoding JSON.
- ``head``, ``mid``, ``tail``: the rendered, viewer-independent parts of its Status JSON
  (``feed.entity_json``), written by the first read that renders it.
- ``v``: raised by each invalidation of the parts.
- ``replies_count``, ``reblogs_count``, ``favourites_count``: a mirror of its live counters
  (``feed:counts:s:{id}``, which stay the authority), copied when parts are filled and moved by the
  same script as the live ones (``store.counters_increment``), so a read finds a status whole in
  one hash.

``feed:entity:account:{id}`` (hash, ``ACCOUNT_CACHE_TTL``): ``head``, the rendered part of the
Account JSON (all but the counters), ``v`` and the mirror of its live counters likewise.

Races with writers are settled here: a record filled by a read never replaces one (only a delete's
tombstone does, ``overwrite=True``), so a read that loaded a status before its delete cannot bring
it back; parts and heads are written only while ``v`` is still the value the reader saw before it
rendered them, so a render from data older than an invalidation is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.redis import get_redis
from feed.store import COUNTER_FIELDS, _script, account_entity_key, counts_key, member, status_entity_key

STATUS_CACHE_TTL = 24 * 3600
ACCOUNT_CACHE_TTL = 24 * 3600
GONE = ""  # the record of an id the database does not have
STATUS_PARTS = ("head", "mid", "tail")
ACCOUNT_PARTS = ("head",)

StatusParts = tuple[bytes, bytes, bytes]  # head, mid, tail
Cached = tuple  # (the parts or None, the version to fill them under)

# KEYS: status hashes. ARGV: overwrite ("1"/"0"), ttl, then per key: record, account, reblog_of, deleted.
_RECORDS_FILL = """
local overwrite = ARGV[1] == '1'
for i, key in ipairs(KEYS) do
  if overwrite or redis.call('HEXISTS', key, 'record') == 0 then
    local base = 2 + (i - 1) * 4
    redis.call('HSET', key, 'record', ARGV[base + 1], 'account', ARGV[base + 2], 'reblog_of', ARGV[base + 3],
               'deleted', ARGV[base + 4])
    redis.call('EXPIRE', key, ARGV[2])
  end
end
return 1
"""

# Copies the live counters into the entity hash (only when there are live ones: without them reads
# fall back on the database's values, which the mirror cannot show).
_MIRROR = """
local function mirror(entity, live, f1, f2, f3)
  if redis.call('EXISTS', live) == 1 then
    local c = redis.call('HMGET', live, f1, f2, f3)
    redis.call('HSET', entity, f1, c[1] or '0', f2, c[2] or '0', f3, c[3] or '0')
  end
end
"""

# KEYS: (status hash, its live counters) pairs. ARGV: the three counter fields, then per pair: the
# version read before rendering, head, mid, tail. Parts join a cached record only (never a hash
# the record left).
_STATUS_PARTS_FILL = _MIRROR + """
for i = 1, #KEYS / 2 do
  local key, base = KEYS[2 * i - 1], 3 + (i - 1) * 4
  if (redis.call('HGET', key, 'v') or '') == ARGV[base + 1] and redis.call('HEXISTS', key, 'record') == 1 then
    redis.call('HSET', key, 'head', ARGV[base + 2], 'mid', ARGV[base + 3], 'tail', ARGV[base + 4])
    mirror(key, KEYS[2 * i], ARGV[1], ARGV[2], ARGV[3])
  end
end
return 1
"""

# KEYS: (account hash, its live counters) pairs. ARGV: the three counter fields, ttl, then per pair:
# the version read before rendering, head.
_ACCOUNT_HEADS_FILL = _MIRROR + """
for i = 1, #KEYS / 2 do
  local key, base = KEYS[2 * i - 1], 4 + (i - 1) * 2
  if (redis.call('HGET', key, 'v') or '') == ARGV[base + 1] then
    redis.call('HSET', key, 'head', ARGV[base + 2])
    mirror(key, KEYS[2 * i], ARGV[1], ARGV[2], ARGV[3])
    redis.call('EXPIRE', key, ARGV[4])
  end
end
return 1
"""

# KEYS: (entity hash, its live counters) pairs. ARGV: the three counter fields. Mirrors the counters
# of entities that are cached (a record or a head) but lost their mirror.
_MIRROR_FILL = _MIRROR + """
for i = 1, #KEYS / 2 do
  local key = KEYS[2 * i - 1]
  if redis.call('HEXISTS', key, 'record') == 1 or redis.call('HEXISTS', key, 'head') == 1 then
    mirror(key, KEYS[2 * i], ARGV[1], ARGV[2], ARGV[3])
  end
end
return 1
"""

# KEYS: hashes. ARGV: ttl, then the fields to drop. A fill of parts rendered before this is refused.
_INVALIDATE = """
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'v', 1)
  redis.call('HDEL', key, unpack(ARGV, 2))
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""


# --- status records -------------------------------------------------------------------
def _record_fields(record: dict) -> list[str]:
    original = record["reblog_of_id"]
    return [json.dumps(record), str(record["account_id"]), member(original) if original else "",
            "1" if record["deleted"] else "0"]


def statuses_cached(status_ids: Sequence[int]) -> dict[int, dict | None]:
    """The cached records of the statuses that have one (one round trip); None for an id known
    to be gone from the database."""
    if not status_ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for status_id in status_ids:
        pipe.hget(status_entity_key(status_id), "record")
    out: dict[int, dict | None] = {}
    for status_id, value in zip(status_ids, pipe.execute(), strict=True):
        if value is not None:
            out[status_id] = json.loads(value) if value else None
    return out


def statuses_cache(records: Iterable[dict], *, overwrite: bool = False) -> None:
    """Cache status records. Fills from a read never replace a cached record, so a read that raced
    a delete cannot replace the deleted record written with ``overwrite``."""
    records = list(records)
    if not records:
        return
    args: list = ["1" if overwrite else "0", STATUS_CACHE_TTL]
    for record in records:
        args += _record_fields(record)
    _script(_RECORDS_FILL)(keys=[status_entity_key(r["id"]) for r in records], args=args)


def statuses_cache_gone(status_ids: Sequence[int]) -> None:
    """Remember that the database has no such statuses (a timeline may still name one)."""
    if status_ids:
        args: list = ["0", STATUS_CACHE_TTL]
        for _ in status_ids:
            args += [GONE, "", "", "1"]
        _script(_RECORDS_FILL)(keys=[status_entity_key(s) for s in status_ids], args=args)


def statuses_uncache(status_ids: Iterable[int]) -> None:
    keys = [status_entity_key(s) for s in status_ids]
    if keys:
        get_redis().delete(*keys)


# --- rendered parts ------------------------------------------------------------------
@dataclass
class RenderInputs:
    """What rendering a set of statuses reads from Redis, in one round trip."""

    status_parts: dict[int, Cached]  # id -> (StatusParts or None, version)
    account_heads: dict[int, Cached]  # id -> (head or None, version)
    counters: dict[str, dict[int, dict[str, int]]]  # the live counters, as ``counters_get_kinds``
    unmirrored: dict[str, list[int]]  # cached statuses ("s") and accounts ("a") without their counters' mirror


def render_inputs(status_ids: Sequence[int], account_ids: Sequence[int]) -> RenderInputs:
    pipe = get_redis().pipeline(transaction=False)
    for status_id in status_ids:
        pipe.hmget(status_entity_key(status_id), [*STATUS_PARTS, "v", COUNTER_FIELDS["s"][0]])
    for account_id in account_ids:
        pipe.hmget(account_entity_key(account_id), [*ACCOUNT_PARTS, "v", COUNTER_FIELDS["a"][0]])
    counted = [("s", s) for s in status_ids] + [("a", a) for a in account_ids]
    for kind, object_id in counted:
        pipe.hgetall(counts_key(kind, object_id))
    replies = iter(pipe.execute()) if len(pipe) else iter(())
    unmirrored: dict[str, list[int]] = {"s": [], "a": []}
    parts: dict[int, Cached] = {}
    for status_id in status_ids:
        head, mid, tail, version, mirrored = next(replies)
        cached = head is not None and mid is not None and tail is not None
        parts[status_id] = ((head, mid, tail) if cached else None, (version or b"").decode())
        if cached and mirrored is None:
            unmirrored["s"].append(status_id)
    heads: dict[int, Cached] = {}
    for account_id in account_ids:
        head, version, mirrored = next(replies)
        heads[account_id] = (head, (version or b"").decode())
        if head is not None and mirrored is None:
            unmirrored["a"].append(account_id)
    counters: dict[str, dict[int, dict[str, int]]] = {"s": {}, "a": {}}
    for kind, object_id in counted:
        values = next(replies)
        if values:
            counters[kind][object_id] = {k.decode(): int(v) for k, v in values.items()}
    return RenderInputs(parts, heads, counters, unmirrored)


def _paired(kind: str, object_ids: Iterable[int]) -> list[str]:
    """(entity hash, live counters) key pairs, as the fill scripts take them."""
    key = status_entity_key if kind == "s" else account_entity_key
    return [k for object_id in object_ids for k in (key(object_id), counts_key(kind, object_id))]


def status_parts_cache(entries: dict[int, tuple[StatusParts, str]]) -> None:
    """Cache rendered parts, each under the version read before rendering it, with the status's
    counters' mirror."""
    if not entries:
        return
    args: list = [*COUNTER_FIELDS["s"]]
    for parts, version in entries.values():
        args += [version, *parts]
    _script(_STATUS_PARTS_FILL)(keys=_paired("s", entries), args=args)


def account_heads_cache(entries: dict[int, tuple[bytes, str]]) -> None:
    if not entries:
        return
    args: list = [*COUNTER_FIELDS["a"], ACCOUNT_CACHE_TTL]
    for head, version in entries.values():
        args += [version, head]
    _script(_ACCOUNT_HEADS_FILL)(keys=_paired("a", entries), args=args)


def counters_mirror(kind: str, object_ids: Sequence[int]) -> None:
    """Mirror the live counters into the cached entities that lost their mirror (``counters_set``)."""
    if object_ids:
        _script(_MIRROR_FILL)(keys=_paired(kind, object_ids), args=[*COUNTER_FIELDS[kind]])


def status_parts_invalidate(status_ids: Sequence[int]) -> None:
    """Drop the rendered parts of the statuses (their record stays); renders begun before are not cached."""
    if status_ids:
        _script(_INVALIDATE)(keys=[status_entity_key(s) for s in status_ids], args=[STATUS_CACHE_TTL, *STATUS_PARTS])


def accounts_invalidate(account_ids: Sequence[int]) -> None:
    """Drop the rendered parts of the accounts; renders begun before are not cached."""
    if account_ids:
        _script(_INVALIDATE)(keys=[account_entity_key(a) for a in account_ids], args=[ACCOUNT_CACHE_TTL, *ACCOUNT_PARTS])
