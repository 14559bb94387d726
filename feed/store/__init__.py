"""The feed's Redis structures: key builders, TTLs and caps, and the only code that touches them.

This module holds every key builder and the timeline, counter and rate-limit structures; the
entity cache (``entity_cache``), the readers' own state (``viewer_state``) and the hot home read
that reads them all in one script (``home_read``) are its submodules.

- ``feed:timeline:{reader}``: the reader's home timeline, a sorted set of status ids. Every
  score is 0 and members are ids zero-padded to 20 digits, so lexicographic order is id order,
  exactly (64-bit Snowflakes do not fit a double score). Capped at ``FEED_TIMELINE_MAX``.
- ``feed:timeline:{reader}:reblogs``: hash original id -> the entry showing it, so a reblog of
  a post already in the timeline is not shown twice.
- ``feed:timeline:{reader}:ready``: exists while the timeline is complete (the reader was
  active within ``FEED_ACTIVE_DAYS``); without it a read rebuilds the timeline from the database.
- ``feed:timeline:{reader}:rebuilding``: one rebuild at a time (``SET NX``).
- ``feed:celebrities:{reader}``: set of followed authors whose posts are pulled at read time.
- ``feed:recent:{author}``: the author's latest ``RECENT_MAX`` status ids (same encoding as a
  timeline, plus the id-0 sentinel that marks the set as built even when empty).
  ``feed:recent:newest``: hash author -> the newest id their set received (a deleted one may stay:
  it only says no newer id is in the set), so a read skips the celebrities with nothing newer than
  what it looks for.
- ``feed:entity:status:{member}``: the status cache (hash): its stored fields as JSON (no counters or
  flags), the three that filter a timeline (author, reblogged status, deleted) and the rendered
  parts of its Status JSON. ``feed:entity:account:{id}``: the rendered part of an Account (hash).
  See ``entity_cache``.
- ``feed:viewer:{reader}`` and ``feed:viewer:{reader}:hidden``: what one reader's pages depend
  on beyond the statuses (hashes): what they favourited and reblogged, and the accounts hidden
  from them (blocked either way, muted). See ``viewer_state``.
- ``feed:counts:{s|a}:{id}``: live counters (hash); ``feed:counters:pending`` the increments
  not yet flushed to the database, swapped atomically to ``feed:counters:flushing``.
- ``feed:active:{reader}``: throttles the reader's activity write to the database.
- ``feed:streaming:listeners``: hash user id -> number of open sockets subscribed to the user's
  stream, so the fan-out publishes events only to users someone is listening for.

The hot home read (``home_read``) is one Lua script that finds the keys of the statuses, authors
and celebrities it reads in the timeline and the sets it walks: this Redis cannot be a Redis
Cluster.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings

from core.redis import get_redis

RECENT_MAX = 200  # per-author recent posts: the follow merge and the celebrity pull read these
ACTIVITY_TOUCH_SECONDS = 3600  # at most one activity write per reader per hour
REBUILD_LOCK_SECONDS = 120
FLUSH_LOCK_SECONDS = 60
COUNTER_PENDING_KEY = "feed:counters:pending"
COUNTER_FLUSHING_KEY = "feed:counters:flushing"
COUNTER_FLUSH_LOCK_KEY = "feed:counters:flush-lock"
SENTINEL = "0" * 20
# The live counters of a status ("s") and of an account ("a"), in the order their entities list them.
COUNTER_FIELDS = {"s": ("replies_count", "reblogs_count", "favourites_count"),
                  "a": ("statuses_count", "followers_count", "following_count")}
ID_WIDTH = 20


def member(status_id: int) -> str:
    return f"{int(status_id):0{ID_WIDTH}d}"


def timeline_key(reader_id: int) -> str:
    return f"feed:timeline:{reader_id}"


def timeline_reblogs_key(reader_id: int) -> str:
    return f"feed:timeline:{reader_id}:reblogs"


def timeline_ready_key(reader_id: int) -> str:
    return f"feed:timeline:{reader_id}:ready"


def timeline_rebuild_key(reader_id: int) -> str:
    return f"feed:timeline:{reader_id}:rebuilding"


def celebrities_key(reader_id: int) -> str:
    return f"feed:celebrities:{reader_id}"


def recent_key(author_id: int) -> str:
    return f"feed:recent:{author_id}"


RECENT_NEWEST_KEY = "feed:recent:newest"  # hash author id -> the newest member their recent set received


def status_entity_key(status_id: int) -> str:
    return f"feed:entity:status:{member(status_id)}"


def account_entity_key(account_id: int) -> str:
    return f"feed:entity:account:{account_id}"


def entity_key(kind: str, object_id: int) -> str:
    """The entity cache's hash of a status ("s") or an account ("a"), as ``counts_key`` names kinds."""
    return status_entity_key(object_id) if kind == "s" else account_entity_key(object_id)


def viewer_key(reader_id: int) -> str:
    return f"feed:viewer:{reader_id}"


def viewer_hidden_key(reader_id: int) -> str:
    return f"feed:viewer:{reader_id}:hidden"


VIEWER_BUILT = "built"  # the viewer hash's field present once it was filled from the database


def counts_key(kind: str, object_id: int) -> str:
    return f"feed:counts:{kind}:{object_id}"


def activity_key(reader_id: int) -> str:
    return f"feed:active:{reader_id}"


def _active_seconds() -> int:
    return settings.FEED_ACTIVE_DAYS * 86400


def _timeline_ttl() -> int:
    # Outlives the ready marker, so a marker never vouches for a vacuumed timeline.
    return _active_seconds() + 86400


# KEYS: (timeline, reblogs hash) per reader. ARGV: cap, then (member, original member or "") pairs.
# Adds each entry to each timeline unless it, its original, or another reblog of its original is
# shown there. Returns the entries added, over all timelines.
_PUSH = """
local cap = tonumber(ARGV[1])
local added = 0
for k = 1, #KEYS, 2 do
  local timeline, reblogs = KEYS[k], KEYS[k + 1]
  for i = 2, #ARGV, 2 do
    local entry = ARGV[i]
    local original = ARGV[i + 1]
    local skip = redis.call('ZSCORE', timeline, entry) ~= false
    if not skip then
      if original ~= '' then
        if redis.call('ZSCORE', timeline, original) then
          skip = true
        else
          local shown = redis.call('HGET', reblogs, original)
          if shown and redis.call('ZSCORE', timeline, shown) then skip = true
          else redis.call('HSET', reblogs, original, entry) end
        end
      else
        local shown = redis.call('HGET', reblogs, entry)
        if shown and redis.call('ZSCORE', timeline, shown) then skip = true end
      end
    end
    if not skip then
      redis.call('ZADD', timeline, 0, entry)
      added = added + 1
    end
  end
  local n = redis.call('ZCARD', timeline)
  if n > cap then redis.call('ZREMRANGEBYRANK', timeline, 0, n - cap - 1) end
  if redis.call('HLEN', reblogs) > 2 * cap then
    local flat = redis.call('HGETALL', reblogs)
    for j = 1, #flat, 2 do
      if not redis.call('ZSCORE', timeline, flat[j + 1]) then redis.call('HDEL', reblogs, flat[j]) end
    end
  end
end
return added
"""
PUSH_READERS = 200  # timelines per script call: one call per batch, not per reader (the client's cost)

# KEYS: (live counter hash, entity hash) per (kind, id, field) triple; KEYS[#KEYS] pending hash.
# ARGV: (field, pending field, delta) triples matching the pairs. Returns the new live values. An
# entity hash mirroring the counter (``entity_cache``) moves with it.
_INCR = """
local out = {}
local pending = KEYS[#KEYS]
for i = 1, (#KEYS - 1) / 2 do
  local base = (i - 1) * 3
  out[i] = redis.call('HINCRBY', KEYS[2 * i - 1], ARGV[base + 1], ARGV[base + 3])
  redis.call('HINCRBY', pending, ARGV[base + 2], ARGV[base + 3])
  if redis.call('HEXISTS', KEYS[2 * i], ARGV[base + 1]) == 1 then
    redis.call('HINCRBY', KEYS[2 * i], ARGV[base + 1], ARGV[base + 3])
  end
end
return out
"""

# KEYS: pending, flushing. A leftover flushing hash (a flush that died) goes first;
# otherwise pending is renamed atomically, so increments from now on land in a new hash.
_SWAP = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
end
return redis.call('HGETALL', KEYS[2])
"""

# KEYS: recent set, newest hash. ARGV: sentinel, member, cap, author. Rank 0 is the sentinel; the
# newest cap ids stay; the newest hash learns of a newer member.
_RECENT_ADD = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 1, -(tonumber(ARGV[3]) + 1))
local newest = redis.call('HGET', KEYS[2], ARGV[4])
if not newest or ARGV[2] > newest then redis.call('HSET', KEYS[2], ARGV[4], ARGV[2]) end
return 1
"""

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


def _script(source: str):
    return get_redis().register_script(source)


# --- home timelines -----------------------------------------------------------
Entry = tuple[int, int | None]  # (status id, original id when it is a reblog)


def _push_args(entries: Sequence[Entry]) -> list:
    args: list = [settings.FEED_TIMELINE_MAX]
    for status_id, original_id in entries:
        args += [member(status_id), member(original_id) if original_id else ""]
    return args


def timelines_push(reader_ids: Iterable[int], entries: Sequence[Entry]) -> None:
    """Add the entries to each reader's timeline in one pipelined round trip."""
    timelines_push_many([(reader_ids, entries)])


def timelines_push_many(pushes: Iterable[tuple[Iterable[int], Sequence[Entry]]]) -> None:
    """Several ``timelines_push`` (readers, entries) at once, in one pipelined round trip."""
    script = _script(_PUSH)
    pipe = get_redis().pipeline(transaction=False)
    for reader_ids, entries in pushes:
        if not entries:
            continue
        args = _push_args(entries)
        readers = list(reader_ids)
        for start in range(0, len(readers), PUSH_READERS):
            keys = [key for reader_id in readers[start:start + PUSH_READERS]
                    for key in (timeline_key(reader_id), timeline_reblogs_key(reader_id))]
            script(keys=keys, args=args, client=pipe)
    if len(pipe):
        pipe.execute()


def timelines_remove(reader_ids: Iterable[int], status_ids: Sequence[int]) -> None:
    members = [member(s) for s in status_ids]
    if not members:
        return
    pipe = get_redis().pipeline(transaction=False)
    for reader_id in reader_ids:
        pipe.zrem(timeline_key(reader_id), *members)
    pipe.execute()


def timeline_members(reader_id: int) -> list[int]:
    return [int(m) for m in get_redis().zrange(timeline_key(reader_id), 0, -1)]


def timeline_reset(reader_id: int) -> None:
    """Empty the timeline before a rebuild (pushes from now on are kept)."""
    get_redis().delete(timeline_key(reader_id), timeline_reblogs_key(reader_id))


def timeline_mark_ready(reader_id: int) -> None:
    timelines_mark_ready([reader_id])


def timelines_mark_ready(reader_ids: Iterable[int]) -> None:
    """Mark the readers' timelines complete, in one pipelined round trip."""
    pipe = get_redis().pipeline(transaction=False)
    for reader_id in reader_ids:
        pipe.set(timeline_ready_key(reader_id), "1", ex=_active_seconds())
        for key in (timeline_key(reader_id), timeline_reblogs_key(reader_id), celebrities_key(reader_id),
                    viewer_key(reader_id), viewer_hidden_key(reader_id)):
            pipe.expire(key, _timeline_ttl())
    pipe.execute()


def timeline_is_ready(reader_id: int) -> bool:
    return bool(get_redis().exists(timeline_ready_key(reader_id)))


def timeline_rebuild_claim(reader_id: int) -> bool:
    return bool(get_redis().set(timeline_rebuild_key(reader_id), "1", nx=True, ex=REBUILD_LOCK_SECONDS))


def timeline_rebuild_release(reader_id: int) -> None:
    get_redis().delete(timeline_rebuild_key(reader_id))


def activity_touch_due(reader_id: int) -> bool:
    """True at most once per ``ACTIVITY_TOUCH_SECONDS`` per reader."""
    return bool(get_redis().set(activity_key(reader_id), "1", nx=True, ex=ACTIVITY_TOUCH_SECONDS))


def activity_touch_forget(reader_id: int) -> None:
    get_redis().delete(activity_key(reader_id))


@dataclass(frozen=True)
class HomeReadState:
    ready: bool  # the timeline is complete
    touch_due: bool  # the reader's activity is due to be recorded (at most once per ACTIVITY_TOUCH_SECONDS)
    celebrities: list[int]  # followed authors pulled at read time
    viewer_built: bool  # the reader's state (hidden accounts, favourites, reblogs) is in Redis


def home_read_state(reader_id: int) -> HomeReadState:
    """What a home read needs to know before reading the timeline, in one round trip (the
    activity touch is claimed here; see ``activity_touch_due``)."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.exists(timeline_ready_key(reader_id))
    pipe.set(activity_key(reader_id), "1", nx=True, ex=ACTIVITY_TOUCH_SECONDS)
    pipe.smembers(celebrities_key(reader_id))
    pipe.hexists(viewer_key(reader_id), VIEWER_BUILT)
    ready, touch_due, celebrities, built = pipe.execute()
    return HomeReadState(bool(ready), bool(touch_due), sorted(int(a) for a in celebrities), bool(built))


def _lex_bounds(lower: int | None, upper: int | None) -> tuple[str, str]:
    """Exclusive id bounds as lexicographic range ends; the sentinel (id 0) is always excluded."""
    low = f"({member(lower or 0)}"
    high = f"({member(upper)}" if upper is not None else "+"
    return low, high


def timeline_ranges(
    reader_id: int, celebrity_ids: Sequence[int], *, lower: int | None, upper: int | None, count: int,
    ascending: bool,
) -> list[list[int]]:
    """Ids strictly between ``lower`` and ``upper`` from the timeline and each celebrity's recent
    posts (one round trip), each list in the requested direction, ``count`` at most."""
    low, high = _lex_bounds(lower, upper)
    pipe = get_redis().pipeline(transaction=False)
    for key in [timeline_key(reader_id), *(recent_key(a) for a in celebrity_ids)]:
        if ascending:
            pipe.zrangebylex(key, low, high, start=0, num=count)
        else:
            pipe.zrevrangebylex(key, high, low, start=0, num=count)
    return [[int(m) for m in result] for result in pipe.execute()]


# --- followed celebrities -------------------------------------------------------
def celebrities_of(reader_id: int) -> list[int]:
    return sorted(int(a) for a in get_redis().smembers(celebrities_key(reader_id)))


def celebrities_replace(reader_id: int, author_ids: Iterable[int]) -> None:
    pipe = get_redis().pipeline(transaction=True)
    pipe.delete(celebrities_key(reader_id))
    ids = list(author_ids)
    if ids:
        pipe.sadd(celebrities_key(reader_id), *ids)
        pipe.expire(celebrities_key(reader_id), _timeline_ttl())
    pipe.execute()


def celebrity_add(reader_ids: Iterable[int], author_id: int) -> None:
    pipe = get_redis().pipeline(transaction=False)
    for reader_id in reader_ids:
        pipe.sadd(celebrities_key(reader_id), author_id)
    pipe.execute()


def celebrity_remove(reader_ids: Iterable[int], author_id: int) -> None:
    pipe = get_redis().pipeline(transaction=False)
    for reader_id in reader_ids:
        pipe.srem(celebrities_key(reader_id), author_id)
    pipe.execute()


# --- authors' recent posts --------------------------------------------------------
def recent_missing(author_ids: Sequence[int]) -> list[int]:
    """Authors whose recent set is not built (never, or lost with Redis's data)."""
    if not author_ids:
        return []
    pipe = get_redis().pipeline(transaction=False)
    for author_id in author_ids:
        pipe.zscore(recent_key(author_id), SENTINEL)
    return [a for a, built in zip(author_ids, pipe.execute(), strict=True) if built is None]


def recent_fill(author_id: int, status_ids: Iterable[int]) -> None:
    """Build the author's recent set (the sentinel marks it built, even with no posts)."""
    members = [member(s) for s in status_ids]
    pipe = get_redis().pipeline(transaction=True)
    pipe.zadd(recent_key(author_id), {SENTINEL: 0, **dict.fromkeys(members, 0)})
    pipe.zremrangebyrank(recent_key(author_id), 1, -(RECENT_MAX + 1))
    if members:
        pipe.hset(RECENT_NEWEST_KEY, author_id, max(members))
    pipe.execute()


def recent_add(author_id: int, status_id: int) -> None:
    """Record a new post in a built set (a set not built is filled from the database on use)."""
    _script(_RECENT_ADD)(keys=[recent_key(author_id), RECENT_NEWEST_KEY],
                         args=[SENTINEL, member(status_id), RECENT_MAX, author_id])


def recent_remove(author_id: int, status_ids: Sequence[int]) -> None:
    if status_ids:
        get_redis().zrem(recent_key(author_id), *[member(s) for s in status_ids])


# --- streaming listeners ------------------------------------------------------------
LISTENERS_KEY = "feed:streaming:listeners"
_LISTENER_LEAVE = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
"""


def listener_join(user_id: int) -> None:
    """A socket subscribed to the user's stream (counted: a user may have several)."""
    get_redis().hincrby(LISTENERS_KEY, user_id, 1)


def listener_leave(user_id: int) -> None:
    _script(_LISTENER_LEAVE)(keys=[LISTENERS_KEY], args=[user_id])


def listening(user_ids: Sequence[int]) -> list[int]:
    """The users among ``user_ids`` with an open socket on their stream (one round trip)."""
    if not user_ids:
        return []
    counts = get_redis().hmget(LISTENERS_KEY, list(user_ids))
    return [u for u, count in zip(user_ids, counts, strict=True) if count is not None and int(count) > 0]


# --- counters -------------------------------------------------------------------
Increment = tuple[str, int, str, int]  # (kind "s"|"a", object id, field, delta)


def counters_increment(increments: Sequence[Increment]) -> list[int]:
    """Apply the deltas to the live counters and record them for the next flush, atomically."""
    if not increments:
        return []
    keys: list = []
    args: list = []
    for kind, object_id, field, delta in increments:
        keys += [counts_key(kind, object_id), entity_key(kind, object_id)]
        args += [field, f"{kind}:{object_id}:{field}", delta]
    return [int(v) for v in _script(_INCR)(keys=[*keys, COUNTER_PENDING_KEY], args=args)]


def counters_get(kind: str, object_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Live counters of each object that has any (one round trip)."""
    return counters_get_kinds({kind: object_ids})[kind]


def counters_get_kinds(wanted: dict[str, Sequence[int]]) -> dict[str, dict[int, dict[str, int]]]:
    """``counters_get`` for several kinds at once ({kind: ids} → {kind: {id: counters}}), one round trip."""
    requests = [(kind, object_id) for kind, ids in wanted.items() for object_id in ids]
    out: dict[str, dict[int, dict[str, int]]] = {kind: {} for kind in wanted}
    if not requests:
        return out
    pipe = get_redis().pipeline(transaction=False)
    for kind, object_id in requests:
        pipe.hgetall(counts_key(kind, object_id))
    for (kind, object_id), values in zip(requests, pipe.execute(), strict=True):
        if values:
            out[kind][object_id] = {k.decode(): int(v) for k, v in values.items()}
    return out


def counters_set(kind: str, values: dict[int, dict[str, int]]) -> None:
    """Replace the objects' live counters; their entity hashes forget their mirror of them (the
    entity cache mirrors them again on its next fill)."""
    pipe = get_redis().pipeline(transaction=False)
    for object_id, fields in values.items():
        pipe.delete(counts_key(kind, object_id))
        if fields:
            pipe.hset(counts_key(kind, object_id), mapping=fields)
        pipe.hdel(entity_key(kind, object_id), *COUNTER_FIELDS[kind])
    pipe.execute()


# KEYS: counter hashes. ARGV: per key, the number of (field, value) pairs, then the pairs.
_COUNTERS_FILL = """
local at = 1
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[at])
  if redis.call('EXISTS', key) == 0 and n > 0 then
    redis.call('HSET', key, unpack(ARGV, at + 1, at + 2 * n))
  end
  at = at + 1 + 2 * n
end
return 1
"""


def counters_fill_missing(kind: str, values: dict[int, dict[str, int]]) -> None:
    """Make the flushed database values live for objects without live counters. A hash that
    exists (an increment created it meanwhile) is left alone."""
    if not values:
        return
    args: list = []
    for fields in values.values():
        args.append(len(fields))
        for field, value in fields.items():
            args += [field, value]
    _script(_COUNTERS_FILL)(keys=[counts_key(kind, object_id) for object_id in values], args=args)


def counters_clear_all() -> None:
    """Forget every live counter and pending delta (before a rebuild from the database), and the
    entity cache that mirrors them."""
    client = get_redis()
    client.delete(COUNTER_PENDING_KEY, COUNTER_FLUSHING_KEY)
    for pattern in ("feed:counts:*", "feed:entity:*"):
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)


def counters_swap() -> dict[str, int]:
    """Take the pending deltas for a flush: ``{"s:<id>:<field>": delta}``."""
    flat = _script(_SWAP)(keys=[COUNTER_PENDING_KEY, COUNTER_FLUSHING_KEY])
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


def counters_swap_done() -> None:
    get_redis().delete(COUNTER_FLUSHING_KEY)


def counters_pending() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in get_redis().hgetall(COUNTER_PENDING_KEY).items()}


def flush_lock_claim(token: str) -> bool:
    return bool(get_redis().set(COUNTER_FLUSH_LOCK_KEY, token, nx=True, ex=FLUSH_LOCK_SECONDS))


def flush_lock_release(token: str) -> None:
    _script(_RELEASE)(keys=[COUNTER_FLUSH_LOCK_KEY], args=[token])


# --- rate limits ------------------------------------------------------------------
def ratelimit_window_key(scope: str, identity: str, window: int) -> str:
    return f"feed:ratelimit:{scope}:{identity}:{window}"


def ratelimit_window(period: int, *, now: float) -> tuple[int, int, int]:
    """The current fixed window of ``period`` seconds: (its number, its counter's TTL, its end as a
    Unix time)."""
    window = int(now) // period
    return window, period + 60, (window + 1) * period


def ratelimit_hit(scope: str, identity: str, period: int, *, now: float) -> tuple[int, int]:
    """Count one action in the current fixed window of ``period`` seconds (atomic ``INCR``);
    returns (actions in the window so far, the window's end as a Unix time)."""
    window, ttl, reset = ratelimit_window(period, now=now)
    key = ratelimit_window_key(scope, identity, window)
    pipe = get_redis().pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, ttl)
    count, _ = pipe.execute()
    return int(count), reset


# --- OAuth token scopes -------------------------------------------------------------
OAUTH_SCOPES_TTL = 30  # as long as core trusts a resolved token without asking again
NOT_OAUTH = "-"  # the cached answer for a key that is no OAuth token (a platform token)


def oauth_scopes_key(digest: str) -> str:
    return f"feed:oauth:scopes:{digest}"


def oauth_scopes_cached(digest: str) -> str | None:
    value = get_redis().get(oauth_scopes_key(digest))
    return None if value is None else value.decode()


async def aoauth_scopes_cached(digest: str) -> str | None:
    """``oauth_scopes_cached`` on the hot path's connection."""
    from core import hotredis

    value = await hotredis.connection().execute("GET", oauth_scopes_key(digest))
    return None if value is None else value.decode()


def oauth_scopes_cache(digest: str, scopes: str) -> None:
    get_redis().set(oauth_scopes_key(digest), scopes, ex=OAUTH_SCOPES_TTL)


def oauth_scopes_forget(digest: str) -> None:
    get_redis().delete(oauth_scopes_key(digest))
