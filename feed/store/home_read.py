"""A warm home timeline page in one Redis round trip, for the hot path (``feed.hot``).

One Lua script does, on cached data only, what a home read through Django does for a ready
timeline: it resolves the token from core's token cache (``core.tokens``) and checks its cached
OAuth scopes; merges the reader's timeline with the followed celebrities' recent posts and filters
batches of ids with the status cache and the accounts hidden from the reader; splices the page's
JSON from the cached parts of each status and author with their live counters and the reader's
flags, following ``feed.entity_json``'s layouts (compiled into the script); and counts the request
against the API rate limit. When anything is missing (the token or its scopes not cached, a timeline
not ready, an activity touch due, a celebrity's recent set, a status, an author or its counters not
cached, the reader's state not built) it changes nothing and says what: the caller asks core's
token check, or hands the read to the Django view, which answers it and fills what was missing.

Paging is ``feed.selectors._collect`` with ``_redis_home_fetch`` and ``_visible_filter``, step for
step (``tests/feed/test_home_read.py`` checks the two against each other on generated timelines):
batches of ``2 × limit + 5`` ids between exclusive bounds, at most ``MAX_BATCHES`` of them; a status
is kept when it and the status it reblogs are live and by accounts not hidden from the reader, and
when no earlier kept entry showed the same status. A celebrity's posts beyond the last id of a full
batch of the timeline cannot be among the batch's ids: they are not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from core import hotredis
from core.store import TOKEN_UNKNOWN, token_cache_key
from feed import entity_json
from feed.store import (
    COUNTER_FIELDS,
    NOT_OAUTH,
    RECENT_NEWEST_KEY,
    SENTINEL,
    account_entity_key,
    activity_key,
    celebrities_key,
    member,
    oauth_scopes_key,
    ratelimit_window_key,
    recent_key,
    status_entity_key,
    timeline_key,
    timeline_ready_key,
    viewer_hidden_key,
    viewer_key,
)
from feed.store.viewer_state import favourite_field, reblog_field

TOKEN, SCOPES, DJANGO, LIMITED, OK = b"token", b"scopes", b"django", b"limited", b"ok"
_ID = "{id}"  # where a key builder's id goes, for the key templates the script fills in


def _lua_string(text: str | bytes) -> str:
    text = text.decode("ascii") if isinstance(text, bytes) else text
    assert "]=]" not in text and "\n" not in text, text
    return f"[=[{text}]=]"


def _lua_key(key_with_id: str) -> str:
    """A Lua expression of ``key_with_id`` (a key built for the id ``_ID``) for the id in ``id``."""
    before, found, after = key_with_id.partition(_ID)
    assert found, key_with_id
    return " .. ".join([*([_lua_string(before)] if before else []), "id", *([_lua_string(after)] if after else [])])


def _lua_splice(name: str, layout: entity_json.Layout) -> str:
    """A Lua function ``name(slots …)`` joining ``layout``: its slots are its parameters, in order."""
    slots = [p for p in layout if isinstance(p, str)]
    joined = " .. ".join(_lua_string(p) if isinstance(p, bytes) else p for p in layout)
    return f"local function {name}({', '.join(slots)}) return {joined} end"


def _compiled(source: str) -> str:
    """The script with its key builders, markers and layouts filled in from the Python definitions."""
    functions = {
        "READY_KEY": _lua_key(timeline_ready_key(_ID)),
        "ACTIVITY_KEY": _lua_key(activity_key(_ID)),
        "CELEBRITIES_KEY": _lua_key(celebrities_key(_ID)),
        "TIMELINE_KEY": _lua_key(timeline_key(_ID)),
        "VIEWER_KEY": _lua_key(viewer_key(_ID)),
        "HIDDEN_KEY": _lua_key(viewer_hidden_key(_ID)),
        "RECENT_KEY": _lua_key(recent_key(_ID)),
        "STATUS_KEY": _lua_key(status_entity_key(0).replace(member(0), _ID)),
        "ACCOUNT_KEY": _lua_key(account_entity_key(_ID)),
        "FAVOURITE_FIELD": _lua_key(favourite_field(0).replace(member(0), _ID)),
        "REBLOG_FIELD": _lua_key(reblog_field(0).replace(member(0), _ID)),
    }
    definitions = [f"local function {name}(id) return {body} end" for name, body in functions.items()]
    definitions += [
        f"local TOKEN_UNKNOWN = {_lua_string(TOKEN_UNKNOWN)}",
        f"local NOT_OAUTH = {_lua_string(NOT_OAUTH)}",
        f"local SENTINEL = {_lua_string(SENTINEL)}",
        f"local RECENT_NEWEST_KEY = {_lua_string(RECENT_NEWEST_KEY)}",
        f"local GRANTING_SCOPES = {_lua_string(' '.join(granting_scopes()))}",
        # The mirrors of the live counters in the entity hashes, in their entities' order.
        f"local STATUS_COUNTERS = {{{', '.join(_lua_string(f) for f in COUNTER_FIELDS['s'])}}}",
        f"local ACCOUNT_COUNTERS = {{{', '.join(_lua_string(f) for f in COUNTER_FIELDS['a'])}}}",
        *(f"local {name} = {_lua_string(value)}" for name, value in (
            ("TRUE", entity_json.TRUE), ("FALSE", entity_json.FALSE), ("NULL", entity_json.NULL),
            ("ARRAY_OPEN", entity_json.ARRAY_OPEN), ("ARRAY_SEPARATOR", entity_json.ARRAY_SEPARATOR),
            ("ARRAY_CLOSE", entity_json.ARRAY_CLOSE))),
        _lua_splice("status_json", entity_json.STATUS_LAYOUT),
        _lua_splice("account_json", entity_json.ACCOUNT_LAYOUT),
    ]
    return source.replace("-- DEFINITIONS --", "\n".join(definitions))


HOME_SCOPE = "read:statuses"  # what HomeTimelineView requires of an OAuth token


def granting_scopes() -> list[str]:
    """The OAuth scopes any one of which lets a token read the home timeline, as ``feed.scopes``
    decides (a token's scopes grant it when one of them does)."""
    from feed.scopes import OAUTH_SCOPES, scope_granted

    candidates = {HOME_SCOPE, HOME_SCOPE.split(":")[0], "follow", *OAUTH_SCOPES}
    return sorted(s for s in candidates if scope_granted(HOME_SCOPE, frozenset({s})))


# KEYS: 1 the token's entry in core's token cache, 2 the token's cached OAuth scopes.
# ARGV: 1 rate limit, 2 and 3 the rate-limit counter's key before and after the reader's id, 4 its ttl,
#       5 lower bound member or "", 6 upper bound member or "", 7 "1" for ascending (min_id), 8 page
#       limit, 9 batch size, 10 max batches.
# Returns {"token"} when the token is not cached as some user's, {"scopes"} when its scopes are not
# cached, {"django"} when the view must answer (also for a token lacking the scopes: the view's 403),
# {"limited", requests in the window} past the limit, or {"ok", requests in the window, JSON body,
# first id, last id} (members; none for an empty page).
_SOURCE = """
-- DEFINITIONS --
local reader = redis.call('GET', KEYS[1])
if not reader or reader == TOKEN_UNKNOWN then return {'token'} end
local scopes = redis.call('GET', KEYS[2])
if not scopes then return {'scopes'} end
if scopes ~= NOT_OAUTH then
  local granting, granted = {}, false
  for scope in string.gmatch(GRANTING_SCOPES, '%S+') do granting[scope] = true end
  for scope in string.gmatch(scopes, '%S+') do if granting[scope] then granted = true end end
  if not granted then return {'django'} end
end
local rate_key = ARGV[2] .. reader .. ARGV[3]
local function count_request()
  local n = redis.call('INCR', rate_key)
  redis.call('EXPIRE', rate_key, ARGV[4])
  return n
end
if tonumber(redis.call('GET', rate_key) or '0') >= tonumber(ARGV[1]) then return {'limited', count_request()} end
local viewer = VIEWER_KEY(reader)
if redis.call('EXISTS', READY_KEY(reader), ACTIVITY_KEY(reader)) < 2 or redis.call('HEXISTS', viewer, 'built') == 0 then
  return {'django'}
end

local timeline = TIMELINE_KEY(reader)
local authors = redis.call('SMEMBERS', CELEBRITIES_KEY(reader))
local celebrities, newest = {}, {}
for i, author in ipairs(authors) do celebrities[i] = RECENT_KEY(author) end
if #authors > 0 then
  -- A built recent set holds at least the sentinel: a missing one is not built.
  if redis.call('EXISTS', unpack(celebrities)) < #celebrities then return {'django'} end
  newest = redis.call('HMGET', RECENT_NEWEST_KEY, unpack(authors))
end
local hidden = {}
local counted = redis.call('HGETALL', HIDDEN_KEY(reader))
for i = 1, #counted, 2 do hidden[counted[i]] = tonumber(counted[i + 1]) > 0 end

local ascending = ARGV[7] == '1'
local lower, upper = ARGV[5], ARGV[6]
local page_limit, batch, max_batches = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])

local function range(key, near, far)  -- (the count as given: a number would be formatted at each call)
  if ascending then return redis.call('ZRANGEBYLEX', key, near, far, 'LIMIT', '0', ARGV[9]) end
  return redis.call('ZREVRANGEBYLEX', key, far, near, 'LIMIT', '0', ARGV[9])
end

-- The first `batch` distinct ids strictly between the bounds, from every source, in page order.
local function fetch()
  local low = lower ~= '' and lower or SENTINEL
  local far = upper ~= '' and ('(' .. upper) or '+'
  local ids = range(timeline, '(' .. low, far)
  local near = '(' .. low
  if #ids == batch then  -- a celebrity's posts past the timeline's last one cannot make the batch
    if ascending then far = '(' .. ids[batch] else low = ids[batch]; near = '(' .. low end
  end
  local merged = nil
  for i, key in ipairs(celebrities) do
    -- (nothing newer than the low bound in a set: no need to read it)
    if not newest[i] or newest[i] > low then
      local theirs = range(key, near, far)
      if #theirs > 0 then
        merged = merged or {unpack(ids)}
        for _, id in ipairs(theirs) do merged[#merged + 1] = id end
      end
    end
  end
  if not merged then return ids end
  table.sort(merged)
  local out, last = {}, nil
  local first, stop, step = 1, #merged, 1
  if not ascending then first, stop, step = #merged, 1, -1 end
  for i = first, stop, step do
    local id = merged[i]
    if id ~= last then
      out[#out + 1] = id
      last = id
      if #out == batch then break end
    end
  end
  return out
end

-- {account, reblog_of, deleted, head, mid, tail, counters…} of a status, or nil when it is not cached.
local records = {}
local function record(id)
  local r = records[id]
  if r == nil then
    r = redis.call('HMGET', STATUS_KEY(id), 'account', 'reblog_of', 'deleted', 'head', 'mid', 'tail',
                   unpack(STATUS_COUNTERS))
    if not r[1] then return nil end
    records[id] = r
  end
  return r
end

local function visible(r)
  return r[3] ~= '1' and not hidden[r[1]]
end

local seen, out = {}, {}
-- Keeps the batch's visible ids, each status shown once; false when a status is not cached.
local function keep(ids)
  for _, id in ipairs(ids) do
    if #out >= page_limit then return true end
    local r = record(id)
    if not r then return false end
    local shown = visible(r)
    local original = r[2]
    if shown and original ~= '' then
      local o = record(original)
      if not o then return false end
      shown = visible(o)
    end
    if shown then
      local key = original ~= '' and original or id
      if not seen[key] then
        seen[key] = true
        out[#out + 1] = id
      end
    end
  end
  return true
end

for _ = 1, max_batches do
  if #out >= page_limit then break end
  local ids = fetch()
  if not keep(ids) then return {'django'} end
  if #ids < batch then break end
  if ascending then lower = ids[#ids] else upper = ids[#ids] end
end

local page = {}
for i = 1, #out do page[i] = ascending and out[#out + 1 - i] or out[i] end

local accounts = {}
-- The Account JSON of an author, nil when it or its counters are not cached.
local function account(id)
  local json = accounts[id]
  if json == nil then
    local a = redis.call('HMGET', ACCOUNT_KEY(id), 'head', unpack(ACCOUNT_COUNTERS))
    if not a[1] or not a[2] then return nil end
    json = account_json(a[1], a[2], a[3], a[4])
    accounts[id] = json
  end
  return json
end

-- The Status JSON of a page entry (or of the status it reblogs), nil when something is not cached.
local function status(id, reblog, favourited, reblogged)
  local r = records[id]
  local by = account(r[1])
  if not by or not r[4] or not r[5] or not r[6] or not r[7] then return nil end
  return status_json(r[4], by, r[5], reblog, r[6], r[7], r[8], r[9], favourited, reblogged)
end

local fields = {}
for _, id in ipairs(page) do
  local shown = records[id][2] ~= '' and records[id][2] or id
  fields[#fields + 1] = FAVOURITE_FIELD(shown)
  fields[#fields + 1] = REBLOG_FIELD(shown)
end
local flags = #fields > 0 and redis.call('HMGET', viewer, unpack(fields)) or {}
local body = {ARRAY_OPEN}  -- joined once at the end
for i, id in ipairs(page) do
  local favourited = tonumber(flags[2 * i - 1] or '0') > 0 and TRUE or FALSE
  local reblogged = tonumber(flags[2 * i] or '0') > 0 and TRUE or FALSE
  local original = records[id][2]
  local reblog = NULL
  if original ~= '' then
    reblog = status(original, NULL, favourited, reblogged)
    if not reblog then return {'django'} end
  end
  local item = status(id, reblog, favourited, reblogged)
  if not item then return {'django'} end
  if i > 1 then body[#body + 1] = ARRAY_SEPARATOR end
  body[#body + 1] = item
end
body[#body + 1] = ARRAY_CLOSE
return {'ok', count_request(), table.concat(body), page[1], page[#page]}
"""

@cache
def script_source() -> str:
    """The script, compiled on first use."""
    return _compiled(_SOURCE)


@dataclass(frozen=True)
class HomeRead:
    """The script's answer: ``kind`` is TOKEN, SCOPES, DJANGO, LIMITED or OK."""

    kind: bytes
    requests: int = 0  # in the rate limit's window, this one included
    body: bytes = b""  # the page's JSON
    first_id: int | None = None  # the page's newest and oldest status ids (None for an empty page)
    last_id: int | None = None


def rate_key_parts(scope: str, identity_of, window: int) -> tuple[bytes, bytes]:
    """The rate-limit counter key of ``identity_of(user id)`` in ``window``, around the user id."""
    before, _, after = ratelimit_window_key(scope, identity_of(_ID), window).partition(_ID)
    return before.encode(), after.encode()


@lru_cache(maxsize=1024)
def _token_keys(token_key: str) -> tuple[bytes, bytes]:
    """The keys of a token's entries in core's token cache and in the OAuth scopes cache (each a
    digest of the token: worth remembering for a token that reads again and again)."""
    from feed.oauth import token_checksum

    return token_cache_key(token_key).encode(), oauth_scopes_key(token_checksum(token_key)).encode()


@lru_cache(maxsize=256)
def _decimal(number: int) -> bytes:
    return str(number).encode()


_NONE, _ASCENDING, _DESCENDING = b"", b"1", b"0"


async def ahome_read(*, token_key: str, rate_limit: int, rate_key: tuple[bytes, bytes], rate_ttl: int,
                     lower: int | None, upper: int | None, ascending: bool, limit: int, batch: int,
                     max_batches: int) -> HomeRead:
    """Run the home read for the token ``token_key`` on the hot path's connection (raises what
    ``core.hotredis`` raises when Redis does not answer). ``rate_key``: the rate-limit counter's key
    around the reader's id (``rate_key_parts``)."""
    # Arguments as bytes, as the connection sends them (most are the same from one read to the next).
    reply = await hotredis.connection().eval(
        script_source(), 2, *_token_keys(token_key), _decimal(rate_limit), *rate_key, _decimal(rate_ttl),
        _NONE if lower is None else member(lower).encode(), _NONE if upper is None else member(upper).encode(),
        _ASCENDING if ascending else _DESCENDING, _decimal(limit), _decimal(batch), _decimal(max_batches))
    kind = reply[0]
    if kind == OK:
        first, last = (int(reply[3]), int(reply[4])) if len(reply) > 3 else (None, None)
        return HomeRead(OK, int(reply[1]), reply[2], first, last)
    if kind == LIMITED:
        return HomeRead(LIMITED, int(reply[1]))
    return HomeRead(kind)
