"""The chat app's Redis structures: key builders, TTLs and the only code that touches them.

- ``chat:presence:{user}``: exists while the user is online (60 s TTL, refreshed by activity).
- ``chat:sockets:{user}``: open sockets of the user, so several devices count as one presence.
- ``chat:receipts:{user}``: hash ``d:{conversation}`` / ``r:{conversation}`` -> delivered / read seq,
  only ever raised (Lua max); ``chat:receipts:dirty`` lists users whose pointers await a flush;
  ``chat:receipts:flushing`` (sorted set, score = deadline) holds the users a flusher took, until it
  is done: a flusher that dies leaves them there and the next flush past the deadline takes them again.
- ``chat:typing:{conversation}:{user}``: throttles typing events.
"""

import time

from core.redis import get_async_redis, get_redis

PRESENCE_TTL = 60
# Longer than the presence TTL: a socket that stops pinging drops out of presence
# first, and a crashed server's counters expire on their own.
SOCKETS_TTL = 180
RECEIPTS_TTL = 7 * 86400
TYPING_THROTTLE_SECONDS = 2
RECEIPTS_DIRTY_KEY = "chat:receipts:dirty"
RECEIPTS_FLUSHING_KEY = "chat:receipts:flushing"
RECEIPTS_FLUSH_DEADLINE_SECONDS = 60  # far longer than a flush of one batch takes


def presence_key(user_id: int) -> str:
    return f"chat:presence:{user_id}"


def sockets_key(user_id: int) -> str:
    return f"chat:sockets:{user_id}"


def receipts_key(user_id: int) -> str:
    return f"chat:receipts:{user_id}"


def typing_key(conversation_id: int, user_id: int) -> str:
    return f"chat:typing:{conversation_id}:{user_id}"


def _receipt_field(status: str, conversation_id: int) -> str:
    return f"{'r' if status == 'read' else 'd'}:{conversation_id}"


# KEYS: sockets, presence. ARGV: sockets ttl, presence ttl. Returns the open socket count.
_CONNECT = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return n
"""
# KEYS: sockets, presence. Returns the sockets still open (0: the user went offline).
_DISCONNECT = """
local n = redis.call('DECR', KEYS[1])
if n <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 0
end
return n
"""
# KEYS: sockets, presence. ARGV: sockets ttl, presence ttl.
_TOUCH = """
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return 1
"""
# KEYS: receipts hash, dirty set. ARGV: user id, ttl, then (field, seq) pairs.
# Pointers only move forward; returns 1 for each pair that advanced.
_ADVANCE = """
local out = {}
local changed = false
for i = 3, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  local wanted = tonumber(ARGV[i + 1])
  if wanted > current then
    redis.call('HSET', KEYS[1], ARGV[i], wanted)
    changed = true
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if changed then
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return out
"""


# --- presence ---------------------------------------------------------------
async def presence_connect(user_id: int) -> int:
    return int(await get_async_redis().eval(
        _CONNECT, 2, sockets_key(user_id), presence_key(user_id), SOCKETS_TTL, PRESENCE_TTL))


async def presence_disconnect(user_id: int) -> int:
    return int(await get_async_redis().eval(_DISCONNECT, 2, sockets_key(user_id), presence_key(user_id)))


async def presence_touch(user_id: int) -> None:
    await get_async_redis().eval(_TOUCH, 2, sockets_key(user_id), presence_key(user_id), SOCKETS_TTL, PRESENCE_TTL)


def is_online(user_id: int) -> bool:
    return bool(get_redis().exists(presence_key(user_id)))


def users_with_open_sockets(user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    counts = get_redis().mget([sockets_key(user_id) for user_id in user_ids])
    return {user_id for user_id, count in zip(user_ids, counts, strict=True) if count and int(count) > 0}


# --- receipts ---------------------------------------------------------------
def receipt_advance(user_id: int, conversation_id: int, pointers: dict[str, int]) -> dict[str, bool]:
    """Raise the user's ``delivered``/``read`` pointers; returns which ones moved."""
    statuses = list(pointers)
    args: list = [user_id, RECEIPTS_TTL]
    for status in statuses:
        args += [_receipt_field(status, conversation_id), int(pointers[status])]
    result = get_redis().eval(_ADVANCE, 2, receipts_key(user_id), RECEIPTS_DIRTY_KEY, *args)
    return {status: bool(moved) for status, moved in zip(statuses, result, strict=True)}


def receipt_pointers(user_id: int) -> dict[int, dict[str, int]]:
    """``{conversation_id: {"delivered": seq, "read": seq}}`` as held in Redis for one user."""
    pointers: dict[int, dict[str, int]] = {}
    for field, value in get_redis().hgetall(receipts_key(user_id)).items():
        kind, _, conversation = field.decode().partition(":")
        entry = pointers.setdefault(int(conversation), {"delivered": 0, "read": 0})
        entry["read" if kind == "r" else "delivered"] = int(value)
    return pointers


def receipt_pointers_many(user_ids: list[int], conversation_id: int) -> dict[int, dict[str, int]]:
    pipe = get_redis().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.hmget(receipts_key(user_id), _receipt_field("delivered", conversation_id),
                   _receipt_field("read", conversation_id))
    return {
        user_id: {"delivered": int(delivered or 0), "read": int(read or 0)}
        for user_id, (delivered, read) in zip(user_ids, pipe.execute(), strict=True)
    }


# KEYS: dirty set, flushing zset. ARGV: count, now, deadline. Users a dead flusher left past their
# deadline go back to the dirty set first; then up to ``count`` users move to the flushing set.
_TAKE_DIRTY = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[1]))
if #stale > 0 then
  redis.call('SADD', KEYS[1], unpack(stale))
  redis.call('ZREM', KEYS[2], unpack(stale))
end
local users = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
for _, user in ipairs(users) do redis.call('ZADD', KEYS[2], ARGV[3], user) end
return users
"""


def dirty_receipt_users_pop(count: int, *, now: float | None = None) -> list[int]:
    """Take up to ``count`` dirty users for one flusher (SPOP: each to one flusher at a time).

    They stay in the flushing set until ``dirty_receipt_users_done``; if the flusher dies first,
    they are handed out again once ``RECEIPTS_FLUSH_DEADLINE_SECONDS`` have passed.
    """
    now = time.time() if now is None else now
    users = get_redis().eval(_TAKE_DIRTY, 2, RECEIPTS_DIRTY_KEY, RECEIPTS_FLUSHING_KEY, count, repr(now),
                             repr(now + RECEIPTS_FLUSH_DEADLINE_SECONDS))
    return [int(v) for v in users or []]


def dirty_receipt_users_done(user_ids: list[int]) -> None:
    if user_ids:
        get_redis().zrem(RECEIPTS_FLUSHING_KEY, *user_ids)


def dirty_receipt_user_take(user_id: int) -> bool:
    return bool(get_redis().srem(RECEIPTS_DIRTY_KEY, user_id))


# --- typing -----------------------------------------------------------------
def typing_claim(conversation_id: int, user_id: int) -> bool:
    """True at most once per throttle window per user and conversation."""
    return bool(get_redis().set(typing_key(conversation_id, user_id), 1, nx=True, ex=TYPING_THROTTLE_SECONDS))
