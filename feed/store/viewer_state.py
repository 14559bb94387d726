"""What one reader's pages depend on besides the statuses, in two hashes.

``feed:viewer:{reader}``:

- ``f:{member}`` / ``r:{member}`` (the status id as a timeline member): 1 while the reader
  favourites / has a live reblog of the status.
- ``built``: present once the state was filled from the database; until then it is not read.
- ``gen``: raised by every change, so a fill computed from the database before a change is refused
  (see ``viewer_fill``).

``feed:viewer:{reader}:hidden``: account id -> how many of the reader's relationships hide that
account (the reader blocks it, it blocks the reader, the reader mutes it); absent when none does.
Small, so a read takes it whole.

The services change them after their commit (``viewer_changes``); a read that finds the state
missing (new reader, expired, lost with Redis's data) fills it from the database. It lives as long
as the reader's timeline (refreshed with it, ``store.timelines_mark_ready``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.redis import get_redis
from feed.store import VIEWER_BUILT, _script, _timeline_ttl, member, viewer_hidden_key, viewer_key

GENERATION = "gen"
FILL_CHUNK = 500  # fields per HSET in a fill (Lua's unpack has a stack limit)
HIDDEN = "h:"  # the prefix of a change's field that counts in the hidden hash

Change = tuple[int, str, int]  # (reader id, field, delta)


def hidden_field(account_id: int) -> str:
    return f"{HIDDEN}{account_id}"


def favourite_field(status_id: int) -> str:
    return f"f:{member(status_id)}"


def reblog_field(status_id: int) -> str:
    return f"r:{member(status_id)}"


# KEYS: the viewer hash, the hidden hash. ARGV: ttl, then (field, delta) pairs; a field "h:<account>"
# counts in the hidden hash under "<account>". The change counts even when the state is not built (a
# fill in progress must not write what it read before this change).
_CHANGE = """
redis.call('HINCRBY', KEYS[1], 'gen', 1)
if redis.call('HEXISTS', KEYS[1], 'built') == 1 then
  for i = 2, #ARGV, 2 do
    local key, field = KEYS[1], ARGV[i]
    if string.sub(field, 1, PREFIX_LENGTH) == PREFIX then key, field = KEYS[2], string.sub(field, PREFIX_LENGTH + 1) end
    if redis.call('HINCRBY', key, field, ARGV[i + 1]) <= 0 then redis.call('HDEL', key, field) end
  end
  redis.call('EXPIRE', KEYS[2], redis.call('TTL', KEYS[1]) > 0 and redis.call('TTL', KEYS[1]) or ARGV[1])
end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
""".replace("PREFIX_LENGTH", str(len(HIDDEN))).replace("PREFIX", repr(HIDDEN))

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


def viewer_changes(changes: Iterable[Change]) -> None:
    """Apply the deltas (after the commit that made them), each reader's atomically."""
    by_reader: dict[int, list] = {}
    for reader_id, field, delta in changes:
        by_reader.setdefault(reader_id, []).extend((field, delta))
    if not by_reader:
        return
    script = _script(_CHANGE)
    ttl = _timeline_ttl()
    for reader_id, args in by_reader.items():
        script(keys=[viewer_key(reader_id), viewer_hidden_key(reader_id)], args=[ttl, *args])


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
    """The reader's state but its bookkeeping, hidden accounts as ``hidden_field`` names them (for
    tests and checks)."""
    values = get_redis().hgetall(viewer_key(reader_id))
    fields = {k.decode(): int(v) for k, v in values.items() if k.decode() not in (VIEWER_BUILT, GENERATION)}
    hidden = get_redis().hgetall(viewer_hidden_key(reader_id))
    return {**fields, **{hidden_field(int(k)): int(v) for k, v in hidden.items()}}
