"""The shortener's Redis structures: key builders, TTLs, scripts, and the only code touching them.

- ``shortener:link:{code}``     hash cache of one link (or a negative marker), TTL below.
- ``shortener:lease:{code}``    the miss lease: only its holder loads the link from the database.
- ``shortener:clicks:stream``   raw clicks (Redis Stream) read by the consumer group below.
- ``shortener:clicks:pending``  hash code -> redirects not yet added to Link.click_count.
- ``shortener:clicks:flushing`` the pending hash renamed away while a flush applies it.
- ``shortener:blocked-hosts:version`` a counter bumped by every edit of the admin block list.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
import weakref
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from core import hotredis
from core.redis import get_redis
from core.snowflake import next_id

LINK_CACHE_TTL = 3600
HOT_LINK_CACHE_TTL = 86400  # a link this busy stays cached for a day (edits still purge it at once)
HOT_LINK_THRESHOLD = 20  # counted redirects within one flush window that make a link "hot"
NEGATIVE_CACHE_TTL = 60
LEASE_TTL_MS = 2000
LEASE_WAIT_SECONDS = 0.5
LEASE_POLL_SECONDS = 0.01

CLICK_STREAM_KEY = "shortener:clicks:stream"
CLICK_GROUP = "shortener-clicks"
CLICK_COUNTS_KEY = "shortener:clicks:pending"
CLICK_COUNTS_FLUSHING_KEY = "shortener:clicks:flushing"
FLUSH_BATCH_FIELD = "#batch"  # '#' cannot appear in a short code
BLOCKED_HOSTS_VERSION_KEY = "shortener:blocked-hosts:version"  # no TTL: it must only ever grow


def link_cache_key(code: str) -> str:
    return f"shortener:link:{code}"


def link_lease_key(code: str) -> str:
    return f"shortener:lease:{code}"


@dataclass(frozen=True)
class CachedLink:
    long_url: str
    redirect_type: int
    expires_at: float | None  # epoch seconds
    state: str
    has_password: bool
    max_clicks: int | None

    def is_expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now if now is not None else time.time()) >= self.expires_at

    def to_fields(self) -> dict[str, str]:
        return {
            "u": self.long_url,
            "t": str(self.redirect_type),
            "x": "" if self.expires_at is None else repr(self.expires_at),
            "s": self.state,
            "p": "1" if self.has_password else "0",
            "m": "" if self.max_clicks is None else str(self.max_clicks),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> CachedLink:
        get = {k.decode(): v.decode() for k, v in fields.items()}
        return cls(
            long_url=get["u"],
            redirect_type=int(get["t"]),
            expires_at=float(get["x"]) if get["x"] else None,
            state=get["s"],
            has_password=get["p"] == "1",
            max_clicks=int(get["m"]) if get["m"] else None,
        )


MISSING = object()  # negative-cache hit: the code is known not to exist

# Each visit is sent to Redis at most once (``aredirect``/``click_record``), so the scripts keep no
# per-visit state: a stream entry carries its visit id, and a retry after a lost reply goes to the
# database, where the unique visit id meets that entry (``shortener.services.clicks``).
# The one definition of a stream entry, shared by both scripts recording clicks.
_APPEND_CLICK_LUA = """
local function append_click(stream, code, visit, referrer, ip, agent, method, count)
  redis.call('XADD', stream, '*', 'v', visit, 'c', code, 'r', referrer, 'i', ip, 'a', agent, 'm', method, 'k', count)
end
"""

# KEYS: stream, counts, then the cache key of each redirect. ARGV: now, hot threshold, hot ttl, then
# per redirect: code, visit id, referrer, ip, user agent, method, count (1/0).
# One call answers every redirect an event loop gathered in one pass: for each, read the entry and,
# for a plain active link, append the click; the counted ones are added per code at the end (one
# HINCRBY per link, however many of its clicks the call carries). Returns kind, url, type per redirect.
# Nothing in the loop can fail after the first XADD (Redis refuses a script's writes for lack of
# memory only before its first one; an unreadable expiry is left to Django), so the clicks appended
# and the counts added always match.
_REDIRECT_LUA = _APPEND_CLICK_LUA + """
local now, threshold, hot_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out, seen, counted, order = {}, {}, {}, {}
for i = 3, #KEYS do
  local key, a = KEYS[i], 4 + (i - 3) * 7
  local e = seen[key]
  if not e then
    e = redis.call('HMGET', key, 'u', 't', 'x', 's', 'p', 'm', 'n')
    seen[key] = e
  end
  local kind = 'ok'
  if e[7] then kind = 'missing'
  elseif not e[1] then kind = 'miss'
  elseif e[4] ~= 'active' or e[5] == '1' or e[6] ~= '' then kind = 'django'
  elseif e[3] ~= '' and not (now < (tonumber(e[3]) or now)) then kind = 'django'
  end
  if kind == 'ok' then
    local code, count = ARGV[a], ARGV[a + 6]
    append_click(KEYS[1], unpack(ARGV, a, a + 6))
    if count == '1' then
      if not counted[code] then counted[code] = 0; order[#order + 1] = {code, key} end
      counted[code] = counted[code] + 1
    end
    out[#out + 1] = kind; out[#out + 1] = e[1]; out[#out + 1] = e[2]
  else
    out[#out + 1] = kind; out[#out + 1] = ''; out[#out + 1] = ''
  end
end
for _, item in ipairs(order) do
  local added = counted[item[1]]
  local n = redis.call('HINCRBY', KEYS[2], item[1], added)
  if n >= threshold and n - added < threshold then redis.call('EXPIRE', item[2], hot_ttl) end
end
return out
"""

# KEYS: cache, lease. ARGV: lease token, ttl, field/value pairs. Writes only while the caller still
# holds the lease: an invalidation deletes the lease, so a load that raced an edit is dropped.
_FILL_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: cache, lease. ARGV: token, ttl ms. A fill that landed since the caller's miss also frees the lease:
# checking the cache in the same step keeps a late caller from loading the link a second time.
_LEASE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# KEYS: pending, flushing. ARGV: new batch id. Increments arriving during a flush land in a fresh
# pending hash; a flushing hash left by a crashed flush is returned again (with its original batch id).
_CLAIM_COUNTS_LUA = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
end
return redis.call('HGETALL', KEYS[2])
"""

_scripts: dict[tuple[bool, str], object] = {}


def _run(client, source: str, keys: list, args: list):
    """EVALSHA through a Script registered once per client kind (falls back to EVAL on NOSCRIPT)."""
    kind = (isinstance(client, aioredis.Redis), source)
    script = _scripts.get(kind)
    if script is None:
        script = _scripts[kind] = client.register_script(source)
    return script(keys=keys, args=args, client=client)


# --- link cache -------------------------------------------------------------------------------

def cache_get(code: str) -> CachedLink | object | None:
    """The cached entry, MISSING for a negative-cache hit, or None on a miss."""
    fields = get_redis().hgetall(link_cache_key(code))
    if not fields:
        return None
    if b"n" in fields:
        return MISSING
    return CachedLink.from_fields(fields)


def lease_acquire(code: str) -> str | None:
    """The miss lease of ``code`` (a token), or None if another caller holds it or the cache is filled."""
    token = secrets.token_hex(8)
    keys = [link_cache_key(code), link_lease_key(code)]
    return token if _run(get_redis(), _LEASE_LUA, keys, [token, LEASE_TTL_MS]) else None


async def alease_acquire(code: str) -> str | None:
    """``lease_acquire`` through the hot-path connection."""
    token = secrets.token_hex(8)
    keys = [link_cache_key(code), link_lease_key(code)]
    return token if await hotredis.connection().eval(_LEASE_LUA, len(keys), *keys, token, LEASE_TTL_MS) else None


def _fill_args(token: str, entry: CachedLink | None) -> list:
    if entry is None:
        ttl, fields = NEGATIVE_CACHE_TTL, {"n": "1"}
    else:
        ttl, fields = LINK_CACHE_TTL, entry.to_fields()
    return [token, ttl, *[part for item in fields.items() for part in item]]


def cache_fill(code: str, token: str, entry: CachedLink | None) -> bool:
    """Store the loaded entry (None = unknown code) if the lease is still ours."""
    client = get_redis()
    return bool(_run(client, _FILL_LUA, [link_cache_key(code), link_lease_key(code)], _fill_args(token, entry)))


async def acache_fill(code: str, token: str, entry: CachedLink | None) -> bool:
    """``cache_fill`` through the hot-path connection."""
    keys = [link_cache_key(code), link_lease_key(code)]
    return bool(await hotredis.connection().eval(_FILL_LUA, len(keys), *keys, *_fill_args(token, entry)))


def cache_invalidate(*codes: str) -> None:
    if not codes:
        return
    keys = [key for code in codes for key in (link_cache_key(code), link_lease_key(code))]
    get_redis().delete(*keys)


def cache_ttl(code: str) -> int:
    return get_redis().ttl(link_cache_key(code))


# --- block list -------------------------------------------------------------------------------

def blocked_hosts_version() -> int:
    return int(get_redis().get(BLOCKED_HOSTS_VERSION_KEY) or 0)


def blocked_hosts_version_bump() -> None:
    get_redis().incr(BLOCKED_HOSTS_VERSION_KEY)


# --- clicks -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RedirectOutcome:
    kind: str  # "ok", "miss", "missing", "django"
    long_url: str = ""
    redirect_type: int = 302


UNKNOWN_CODE = RedirectOutcome("missing")

_REDIRECT_BATCH_MAX = 256


class _RedirectBatcher:
    """Redirects of one event loop gathered for one pass of the loop and answered by one script call.

    Each caller still gets its own outcome, and only once its click is in the stream: batching saves
    the per-command cost in this process and in Redis, not the guarantee.
    """

    def __init__(self):
        self.waiting: list[tuple[tuple, asyncio.Future]] = []
        self.scheduled = False
        self.running: set[asyncio.Task] = set()  # the loop holds tasks weakly

    def submit(self, click: tuple) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((click, future))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._send)
        return future

    def _send(self) -> None:
        self.scheduled = False
        waiting, self.waiting = self.waiting, []
        for start in range(0, len(waiting), _REDIRECT_BATCH_MAX):
            batch = waiting[start:start + _REDIRECT_BATCH_MAX]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    @staticmethod
    async def _run(batch: list[tuple[tuple, asyncio.Future]]) -> None:
        keys = [CLICK_STREAM_KEY, CLICK_COUNTS_KEY]
        args: list = [repr(time.time()), HOT_LINK_THRESHOLD, HOT_LINK_CACHE_TTL]
        for click, _ in batch:
            keys.append(link_cache_key(click[0]))
            args += _click_args(*click)
        try:
            result = await hotredis.connection().eval(_REDIRECT_LUA, len(keys), *keys, *args)
        except Exception as exc:  # noqa: BLE001 - every caller learns of the failure, none hangs
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for index, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(_outcome(*result[index * 3:index * 3 + 3]))


def _click_args(code: str, visit_id: int, referrer: str, ip: str, user_agent: str, method: str,
                count: bool) -> tuple:
    return code, visit_id, referrer[:512], ip, user_agent[:512], method, "1" if count else "0"


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RedirectBatcher] = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=4096)
def _outcome(kind: bytes, long_url: bytes, redirect_type: bytes) -> RedirectOutcome:
    """The outcome of one redirect from the script's reply (made once per link: a busy link repeats)."""
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind != "ok":
        return RedirectOutcome(kind)
    return RedirectOutcome(kind, long_url.decode(), int(redirect_type))


async def aredirect(code: str, *, referrer: str, ip: str, user_agent: str, method: str, count: bool,
                    visit_id: int | None = None) -> RedirectOutcome:
    """Read the cached link and, when it is a plain active one, record the click: one round trip.

    Concurrent redirects of this event loop share that round trip (see ``_RedirectBatcher``). Redis
    keeps nothing per visit (``visit_id``, a Snowflake; a new one when None), so a visit is sent here
    at most once: when the call fails the click may or may not be in the stream, and the retry goes
    to the database (``click_record_in_database``), never here again. A "miss", "missing" or
    "django" outcome recorded nothing.
    """
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = _RedirectBatcher()
    visit_id = next_id() if visit_id is None else visit_id
    return await batcher.submit((code, visit_id, referrer, ip, user_agent, method, count))


# KEYS: stream, counts. ARGV: code, visit id, referrer, ip, user agent, method, count (1/0).
_CLICK_LUA = _APPEND_CLICK_LUA + """
append_click(KEYS[1], unpack(ARGV))
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[2], ARGV[1], 1) end
return 1
"""


def click_record(code: str, *, referrer: str, ip: str, user_agent: str, method: str, count: bool,
                 visit_id: int | None = None) -> None:
    """Append a raw click to the stream and bump the pending counter (Django-side redirects).

    As with ``aredirect``, once per visit (a new visit id when None): after a ``RedisError`` the click
    may be in the stream, and the visit is retried in the database, not here.
    """
    visit_id = next_id() if visit_id is None else visit_id
    keys = [CLICK_STREAM_KEY, CLICK_COUNTS_KEY]
    _run(get_redis(), _CLICK_LUA, keys, list(_click_args(code, visit_id, referrer, ip, user_agent, method, count)))


def click_group_ensure(client=None) -> None:
    client = client or get_redis()
    try:
        client.xgroup_create(CLICK_STREAM_KEY, CLICK_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decode_entries(entries) -> list[tuple[str, dict[str, str]]]:
    return [
        (entry_id.decode(), {k.decode(): v.decode(errors="replace") for k, v in fields.items()})
        for entry_id, fields in entries
        if fields is not None
    ]


def click_read_new(consumer: str, count: int) -> list[tuple[str, dict[str, str]]]:
    client = get_redis()
    try:
        response = client.xreadgroup(CLICK_GROUP, consumer, {CLICK_STREAM_KEY: ">"}, count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        click_group_ensure(client)
        response = client.xreadgroup(CLICK_GROUP, consumer, {CLICK_STREAM_KEY: ">"}, count=count)
    return _decode_entries(response[0][1]) if response else []


def click_claim_stale(consumer: str, min_idle_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
    """Take over entries another consumer read but never acknowledged (it died)."""
    client = get_redis()
    try:
        result = client.xautoclaim(CLICK_STREAM_KEY, CLICK_GROUP, consumer, min_idle_ms, "0-0", count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        click_group_ensure(client)
        return []
    entries = _decode_entries(result[1])
    deleted = result[2] if len(result) > 2 else []
    if deleted:  # trimmed away while pending: nothing left to insert
        client.xack(CLICK_STREAM_KEY, CLICK_GROUP, *deleted)
    return entries


# KEYS: stream. ARGV: group, entry ids. Acknowledges the entries, then drops every entry older than
# the first one the group still owes: the oldest pending at any consumer or, with none pending, the
# first not delivered yet. Whole blocks of the stream go at once (XTRIM MINID); deleting each id
# (XDEL) searched its block entry by entry and cost Redis more than reading the entry had.
_ACK_LUA = """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
local floor = redis.call('XPENDING', KEYS[1], ARGV[1])[2]
if not floor then
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local fields = {}
    for i = 1, #group, 2 do fields[group[i]] = group[i + 1] end
    if fields['name'] == ARGV[1] then
      local ms, seq = string.match(fields['last-delivered-id'], '^(%d+)-(%d+)$')
      floor = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
end
if floor then redis.call('XTRIM', KEYS[1], 'MINID', floor) end
return 1
"""


def click_ack(entry_ids: list[str]) -> None:
    """Acknowledge processed entries and drop from the stream every entry no consumer still owes.

    Entries acknowledged after one still pending elsewhere (a consumer that died holding a batch)
    stay until that one is claimed and acknowledged too; nothing pending or undelivered is dropped.
    """
    if not entry_ids:
        return
    _run(get_redis(), _ACK_LUA, [CLICK_STREAM_KEY], [CLICK_GROUP, *entry_ids])


def click_consumers_prune(idle_ms: int) -> list[str]:
    """Forget consumers (old processes) idle that long with nothing pending; returns their names."""
    client = get_redis()
    try:
        consumers = client.xinfo_consumers(CLICK_STREAM_KEY, CLICK_GROUP)
    except redis.ResponseError:
        return []
    pruned = []
    for consumer in consumers:
        if consumer["pending"] == 0 and consumer["idle"] >= idle_ms:
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            client.xgroup_delconsumer(CLICK_STREAM_KEY, CLICK_GROUP, name)
            pruned.append(name)
    return pruned


def click_pending_count() -> int:
    try:
        return int(get_redis().xpending(CLICK_STREAM_KEY, CLICK_GROUP)["pending"])
    except redis.ResponseError:
        return 0


def click_stream_length() -> int:
    return int(get_redis().xlen(CLICK_STREAM_KEY))


def counts_claim(batch_id: int) -> tuple[int, dict[str, int]]:
    """Atomically move the pending counters aside; returns (batch id, {code: increment})."""
    client = get_redis()
    raw = _run(client, _CLAIM_COUNTS_LUA, [CLICK_COUNTS_KEY, CLICK_COUNTS_FLUSHING_KEY], [batch_id, FLUSH_BATCH_FIELD])
    pairs = dict(zip(raw[::2], raw[1::2], strict=True))
    batch = int(pairs.pop(FLUSH_BATCH_FIELD.encode(), batch_id))
    return batch, {code.decode(): int(value) for code, value in pairs.items()}


# KEYS: flushing. ARGV: batch field, batch id. Only the batch the caller applied is dropped: a flusher
# that lost the race for a batch must not delete the next one another flusher has just claimed.
_RELEASE_COUNTS_LUA = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def counts_release(batch_id: int) -> bool:
    """Drop the flushing hash if it still holds ``batch_id``; True if it did."""
    client = get_redis()
    return bool(_run(client, _RELEASE_COUNTS_LUA, [CLICK_COUNTS_FLUSHING_KEY], [FLUSH_BATCH_FIELD, str(batch_id)]))


def counts_pending(code: str) -> int:
    client = get_redis()
    pending = client.hget(CLICK_COUNTS_KEY, code) or 0
    flushing = client.hget(CLICK_COUNTS_FLUSHING_KEY, code) or 0
    return int(pending) + int(flushing)


def counts_pending_many(codes: list[str]) -> dict[str, int]:
    if not codes:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    pipe.hmget(CLICK_COUNTS_KEY, codes)
    pipe.hmget(CLICK_COUNTS_FLUSHING_KEY, codes)
    pending, flushing = pipe.execute()
    return {code: int(a or 0) + int(b or 0) for code, a, b in zip(codes, pending, flushing, strict=True)}
