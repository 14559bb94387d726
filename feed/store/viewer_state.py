"""What one reader's pages depend on besides the statuses, in two hashes.

``feed:viewer:{reader}``:

- ``f:{member}`` / ``r:{member}`` (the status id as a timeline member): 1 while the reader
  favourites / has a live reblog of the status.
- ``built``: present once the state was filled from the database; until then it is not read.
- ``gen``: raised by every change, so a fill computed from the database before a change is refused
  (see ``viewer_fill``).

``feed:viewer:{reader}:hidden``: account id -> how many of the reader's relationships hide that
account (the reader blocks it, it blocks the reader, the reader mutes it). Small, so a read takes
it whole.

The services drop a reader's state after a commit that changes it (``viewers_forget``), and the
next read fills it from the database again. Deltas applied by the services would be cheaper but
cannot be made safe this way: a fill that read the database after a change's commit and before the
change's delta would count that change twice. A fill that read the database before a change's
commit is refused (the change raised ``gen`` since); one that read it after includes the change,
and the change drops it again at worst. It lives as long as the reader's timeline (refreshed with
it, ``store.timelines_mark_ready``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.redis import get_redis
from feed.store import VIEWER_BUILT, _script, _timeline_ttl, member, viewer_hidden_key, viewer_key

GENERATION = "gen"
FILL_CHUNK = 500  # fields per HSET in a fill (Lua's unpack has a stack limit)


def favourite_field(status_id: int) -> str:
    return f"f:{member(status_id)}"


def reblog_field(status_id: int) -> str:
    return f"r:{member(status_id)}"


# KEYS: (viewer hash, hidden hash) pairs. ARGV: ttl. Each reader's state goes; its generation rises.
_FORGET = """
for i = 1, #KEYS, 2 do
  local gen = redis.call('HINCRBY', KEYS[i], 'gen', 1)
  redis.call('DEL', KEYS[i], KEYS[i + 1])
  redis.call('HSET', KEYS[i], 'gen', gen)
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return 1
"""

# KEYS: the viewer hash, the hidden hash. ARGV: the generation read before the database ("" when
# none), ttl, the number H of hidden (account, count) pairs, those pairs, then the viewer hash's
# (field, value) pairs. Writes nothing when a change came in since.
_FILL = """
local gen = redis.call('HGET', KEYS[1], 'gen')
if (gen or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
if gen then redis.call('HSET', KEYS[1], 'gen', gen) end
local hidden_end = 3 + 2 * tonumber(ARGV[3])
for i = 4, hidden_end, CHUNK do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + CHUNK - 1, hidden_end)))
end
for i = hidden_end + 1, #ARGV, CHUNK do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + CHUNK - 1, #ARGV)))
end
redis.call('HSET', KEYS[1], 'built', '1')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
""".replace("CHUNK", str(2 * FILL_CHUNK))


def viewers_forget(reader_ids: Iterable[int]) -> None:
    """Drop the readers' state (after the commit that changed it); their next read fills it again."""
    keys = [k for reader_id in dict.fromkeys(reader_ids) for k in (viewer_key(reader_id), viewer_hidden_key(reader_id))]
    if keys:
        _script(_FORGET)(keys=keys, args=[_timeline_ttl()])


def viewer_generation(reader_id: int) -> str:
    """Read before the database, for ``viewer_fill``."""
    value = get_redis().hget(viewer_key(reader_id), GENERATION)
    return (value or b"").decode()


def viewer_fill(reader_id: int, generation: str, *, hidden: dict[int, int], favourites: Sequence[int],
                reblogs: Sequence[int]) -> bool:
    """Replace the reader's state with what the database said, unless a change came in since
    ``generation`` was read (then False: the next read tries again)."""
    counted = {account_id: count for account_id, count in hidden.items() if count > 0}
    args: list = [generation, _timeline_ttl(), len(counted)]
    for account_id, count in counted.items():
        args += [account_id, count]
    for status_id in favourites:
        args += [favourite_field(status_id), 1]
    for status_id in reblogs:
        args += [reblog_field(status_id), 1]
    return bool(_script(_FILL)(keys=[viewer_key(reader_id), viewer_hidden_key(reader_id)], args=args))


def viewer_built(reader_id: int) -> bool:
    return bool(get_redis().hexists(viewer_key(reader_id), VIEWER_BUILT))


def viewer_fields(reader_id: int) -> dict[str, int]:
    """The reader's state but its bookkeeping, hidden accounts as ``h:{account}`` (for tests and checks)."""
    values = get_redis().hgetall(viewer_key(reader_id))
    fields = {k.decode(): int(v) for k, v in values.items() if k.decode() not in (VIEWER_BUILT, GENERATION)}
    hidden = get_redis().hgetall(viewer_hidden_key(reader_id))
    return {**fields, **{f"h:{int(k)}": int(v) for k, v in hidden.items()}}
