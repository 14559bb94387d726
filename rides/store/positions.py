"""Where online drivers are: their hashes, the GEO sets searched, last-seen scores, the location write.

Keys (see ``rides.store`` for all of the app's):

- ``rides:drivers:geo:{area}:{vehicle}``: GEO set of online drivers in a service area, per
  vehicle type (the regional shard a search reads).
- ``rides:drivers:seen``: sorted set driver → last ping (epoch seconds). Redis GEO has no
  per-member TTL: searches skip drivers silent for ``DRIVER_STALE_SECONDS`` and a sweep removes them.
- ``rides:driver:{driver}``: hash of an online driver: ``state`` (free/offered/busy), ``vehicle``,
  ``area``, ``state_v`` (the ride event that set the state), the last indexed position ``ilat``/``ilng`` (moves shorter than
  ``DRIVER_MOVE_THRESHOLD_M`` are not re-indexed) and the latest ``lat``/``lng``/``heading``/``speed``/``ts``.
- ``rides:drivers:seen:snapshot:{token}``: a copy of the last-seen set of one moment, read in
  chunks by a reader of every driver (surge) and deleted after (``SEEN_SNAPSHOT_TTL`` if not).
- ``rides:areas:version``: a token replaced whenever a service area changes (no TTL). A process
  keeps the active areas in memory with the version it read before loading them
  (``selectors.service_area_map``); a write or search that relies on them names that version and
  is refused, unapplied, once it is no longer current.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from core import hotredis
from core.redis import get_redis
from rides.store.history import LOCATION_STREAM_KEY, LOCATION_STREAM_MAXLEN

SEEN_KEY = "rides:drivers:seen"
AREAS_VERSION_KEY = "rides:areas:version"


class DriverState:
    FREE = "free"
    OFFERED = "offered"
    BUSY = "busy"


GEO_PREFIX = "rides:drivers:geo:"


def geo_key(area: str, vehicle_type: str) -> str:
    return f"{GEO_PREFIX}{area}:{vehicle_type}"


DRIVER_PREFIX = "rides:driver:"


def driver_key(driver_id: int) -> str:
    return f"{DRIVER_PREFIX}{driver_id}"


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


_scripts: dict = {}


def _run(source: str, keys: list, args: list):
    """EVALSHA through the synchronous client (the source is sent only when Redis does not know it)."""
    client = get_redis()
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    return script(keys=keys, args=args, client=client)


# --- service areas -------------------------------------------------------------------
def areas_version() -> str:
    """The current version of the service areas; a new one is made when Redis holds none."""
    client = get_redis()
    value = client.get(AREAS_VERSION_KEY)
    if value is None:
        client.set(AREAS_VERSION_KEY, secrets.token_hex(8), nx=True)
        value = client.get(AREAS_VERSION_KEY)
    return _text(value)


def areas_version_bump() -> None:
    """Mark every process's copy of the service areas out of date (call it after a change commits)."""
    get_redis().set(AREAS_VERSION_KEY, secrets.token_hex(8))


# --- drivers ---------------------------------------------------------------------
def driver_get(driver_id: int) -> dict[str, str] | None:
    raw = get_redis().hgetall(driver_key(driver_id))
    return {_text(k): _text(v) for k, v in raw.items()} if raw else None


@dataclass(frozen=True)
class DriverWrite:
    """One driver's position update: the hash fields, the last-seen score and (``reindex``) the GEO index.

    ``previous`` is the driver's hash before the write: a GEO set they leave (another area or
    vehicle type) loses them. An empty ``area`` (outside every service area) indexes nothing.
    """

    driver_id: int
    fields: dict
    area: str
    vehicle_type: str
    lat: float
    lng: float
    seen: float
    reindex: bool
    previous: dict | None = None


def drivers_put(writes: list[DriverWrite]) -> None:
    """Write many drivers in one round trip: one MULTI/EXEC with the hashes, one GEOADD per GEO set
    with all its members and one ZADD of every last-seen score."""
    if not writes:
        return
    pipe = get_redis().pipeline(transaction=True)
    indexed: dict[str, list] = {}
    seen: dict[int, float] = {}
    for w in writes:
        previous = w.previous
        if previous and previous.get("area") and (previous["area"], previous.get("vehicle")) != (w.area, w.vehicle_type):
            pipe.zrem(geo_key(previous["area"], previous["vehicle"]), w.driver_id)
        pipe.hset(driver_key(w.driver_id), mapping={"area": w.area, "vehicle": w.vehicle_type,
                                                    **{k: v for k, v in w.fields.items() if v is not None}})
        if w.reindex and w.area:
            indexed.setdefault(geo_key(w.area, w.vehicle_type), []).extend((w.lng, w.lat, w.driver_id))
        seen[w.driver_id] = w.seen
    for key, members in indexed.items():
        pipe.geoadd(key, members)
    pipe.zadd(SEEN_KEY, seen)
    pipe.execute()


def driver_put(*, driver_id: int, fields: dict, area: str, vehicle_type: str, lat: float, lng: float,
               seen: float, reindex: bool, previous: dict | None = None) -> None:
    """Write one driver (see ``DriverWrite``) in one round trip."""
    drivers_put([DriverWrite(driver_id=driver_id, fields=fields, area=area, vehicle_type=vehicle_type, lat=lat,
                             lng=lng, seen=seen, reindex=reindex, previous=previous)])


# --- the location write ----------------------------------------------------------------
class LocationWrite(NamedTuple):  # a tuple: one is built per location write
    """A driver's reported points as one write: the newest point moves them, every point is history.

    ``area`` is the service area holding the newest point (``""``: outside every area) as the
    caller's copy of the areas at ``areas_version`` says; ``history`` is the location body kept in
    the history stream. Numbers are floats, sent as Python writes them (``repr``).
    """

    driver_id: int
    now: float
    lat: float
    lng: float
    heading: float | None
    speed: float | None
    ts: float
    move_threshold_m: float
    earth_radius_m: float
    areas_version: str
    area: str
    history: bytes | str


@dataclass(frozen=True)
class Located:
    OFFLINE = "offline"  # no hash: the driver is not online; nothing written
    AREAS = "areas"  # re-indexing needs the areas and the caller's copy is out of date; nothing written
    LATE = "late"  # older than the stored point: last-seen and history only
    STORED = "stored"

    outcome: str
    state: str | None  # the driver's state (free/offered/busy) as the write found it


# KEYS: driver hash, seen, history stream, areas version. ARGV: driver id, now, lat, lng, heading and
# speed ("" when not given), ts, move threshold (m), earth radius (m), areas version, area, GEO key
# prefix, history body, history cap.
# The rule of services.drivers.driver_location, applied where the data is, in one step: the
# driver must be online; a point older than the stored one only refreshes last-seen; the GEO
# index moves only when the newest point is at least the threshold from where the driver was
# indexed (great-circle distance, rides.geo.great_circle_m's formula) or was never indexed, and
# then into the area the caller found for it (leaving the old area's set). Every accepted write
# appends its points to the history stream.
_LOCATE = """
local driver, now = ARGV[1], ARGV[2]
local cur = redis.call('HMGET', KEYS[1], 'vehicle', 'area', 'state', 'ts', 'ilat', 'ilng')
local vehicle, state = cur[1], cur[3] or ''
if not vehicle then return {'offline', ''} end
local function history()
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[14], '*', 'd', driver, 't', now, 'p', ARGV[13])
end
if tonumber(ARGV[7]) < (tonumber(cur[4]) or 0) then
  redis.call('ZADD', KEYS[2], now, driver)
  history()
  return {'late', state}
end
local lat, lng = tonumber(ARGV[3]), tonumber(ARGV[4])
local reindex = true
if cur[5] and cur[5] ~= '' then
  local phi1, phi2 = math.rad(tonumber(cur[5])), math.rad(lat)
  local d_phi = phi2 - phi1
  local d_lambda = math.rad(lng - tonumber(cur[6]))
  local a = math.sin(d_phi / 2) ^ 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ^ 2
  reindex = 2 * tonumber(ARGV[9]) * math.asin(math.min(1.0, math.sqrt(a))) >= tonumber(ARGV[8])
end
local fields = {'lat', ARGV[3], 'lng', ARGV[4], 'ts', ARGV[7]}
if ARGV[5] ~= '' then fields[#fields + 1] = 'heading'; fields[#fields + 1] = ARGV[5] end
if ARGV[6] ~= '' then fields[#fields + 1] = 'speed'; fields[#fields + 1] = ARGV[6] end
if reindex then
  if redis.call('GET', KEYS[4]) ~= ARGV[10] then return {'areas', state} end
  local area, new_area = cur[2] or '', ARGV[11]
  if area ~= '' and area ~= new_area then redis.call('ZREM', ARGV[12] .. area .. ':' .. vehicle, driver) end
  if new_area ~= '' then redis.call('GEOADD', ARGV[12] .. new_area .. ':' .. vehicle, ARGV[4], ARGV[3], driver) end
  fields[#fields + 1] = 'area'; fields[#fields + 1] = new_area
  fields[#fields + 1] = 'ilat'; fields[#fields + 1] = ARGV[3]
  fields[#fields + 1] = 'ilng'; fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], now, driver)
history()
return {'stored', state}
"""


def _locate_keys_args(w: LocationWrite) -> tuple[list, list]:
    keys = [driver_key(w.driver_id), SEEN_KEY, LOCATION_STREAM_KEY, AREAS_VERSION_KEY]
    args = [w.driver_id, repr(w.now), repr(w.lat), repr(w.lng), "" if w.heading is None else repr(w.heading),
            "" if w.speed is None else repr(w.speed), repr(w.ts), repr(w.move_threshold_m), repr(w.earth_radius_m),
            w.areas_version, w.area, GEO_PREFIX, w.history, LOCATION_STREAM_MAXLEN]
    return keys, args


def _located(reply) -> Located:
    return Located(_text(reply[0]), _text(reply[1]) or None)


def driver_locate(write: LocationWrite) -> Located:
    """Apply a location write in one round trip (see ``_LOCATE``)."""
    keys, args = _locate_keys_args(write)
    return _located(_run(_LOCATE, keys, args))


async def adriver_locate(write: LocationWrite) -> Located:
    """``driver_locate`` on the hot-path connection (``core.hotredis``), for async callers."""
    keys, args = _locate_keys_args(write)
    return _located(await hotredis.connection().eval(_LOCATE, len(keys), *keys, *args))


def driver_remove(driver_id: int) -> None:
    """Take a driver out of search (offline or stale)."""
    client = get_redis()
    data = driver_get(driver_id)
    pipe = client.pipeline(transaction=True)
    if data and data.get("area"):
        pipe.zrem(geo_key(data["area"], data["vehicle"]), driver_id)
    pipe.zrem(SEEN_KEY, driver_id)
    pipe.delete(driver_key(driver_id))
    pipe.execute()


# KEYS: seen, driver hash. ARGV: driver id, cutoff, GEO key prefix.
# Removes the driver only if still silent since before the cutoff (a ping in between wins).
_REMOVE_IF_STALE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) >= tonumber(ARGV[2]) then return 0 end
local place = redis.call('HMGET', KEYS[2], 'area', 'vehicle')
if place[1] and place[1] ~= '' then
  redis.call('ZREM', ARGV[3] .. place[1] .. ':' .. place[2], ARGV[1])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""


def driver_remove_if_stale(driver_id: int, cutoff: float) -> bool:
    return bool(get_redis().eval(_REMOVE_IF_STALE, 2, SEEN_KEY, driver_key(driver_id), driver_id, cutoff, GEO_PREFIX))


# A state written after a ride transition carries the transition's event id as its version
# (field ``state_v``): writes scheduled after the commits of two racing transitions (an accept
# and a cancel) may run in either order, and only the later transition's state may stay.
# KEYS: driver hash. ARGV: state, version ('' writes unconditionally). Only an online driver.
_SET_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '' then
  if tonumber(ARGV[2]) < tonumber(redis.call('HGET', KEYS[1], 'state_v') or '0') then return 0 end
  redis.call('HSET', KEYS[1], 'state_v', ARGV[2])
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1
"""


def driver_set_state(driver_id: int, state: str, version: int | None = None) -> bool:
    """Set an online driver's state; with ``version``, only if no later transition set it already."""
    return bool(get_redis().eval(_SET_STATE, 1, driver_key(driver_id), state, "" if version is None else version))


def drivers_last_seen(driver_ids: list[int]) -> list[float | None]:
    if not driver_ids:
        return []
    return get_redis().zmscore(SEEN_KEY, driver_ids)


def drivers_state(driver_ids: list[int]) -> list[str | None]:
    pipe = get_redis().pipeline(transaction=False)
    for driver_id in driver_ids:
        pipe.hget(driver_key(driver_id), "state")
    return [_text(v) for v in pipe.execute()]


def drivers_seen_before(cutoff: float) -> list[int]:
    return [int(m) for m in get_redis().zrangebyscore(SEEN_KEY, "-inf", f"({cutoff}")]


def drivers_seen_since(cutoff: float) -> list[int]:
    return [int(m) for m in get_redis().zrangebyscore(SEEN_KEY, cutoff, "+inf")]


# ARGV: driver hash prefix, then driver ids. Flat (state, lat, lng) of each driver's hash, a
# missing field as nil: one script per chunk instead of one command per driver (building and
# parsing 100,000 pipelined commands in Python cost seconds; one array reply costs milliseconds).
_POSITIONS = """
local out = {}
for i = 2, #ARGV do
  local row = redis.call('HMGET', ARGV[1] .. ARGV[i], 'state', 'lat', 'lng')
  out[#out + 1] = row[1]
  out[#out + 1] = row[2]
  out[#out + 1] = row[3]
end
return out
"""
# Drivers read per script call: Redis serves nothing else while a script runs.
POSITIONS_CHUNK = 5000


def drivers_positions(driver_ids: list[int]) -> list[tuple[str | None, float | None, float | None]]:
    """(state, lat, lng) of each driver, from their hashes."""
    script = get_redis().register_script(_POSITIONS)
    out = []
    for first in range(0, len(driver_ids), POSITIONS_CHUNK):
        rows = script(args=[DRIVER_PREFIX, *driver_ids[first:first + POSITIONS_CHUNK]])
        out += [(_text(rows[i]), float(rows[i + 1]) if rows[i + 1] else None,
                 float(rows[i + 2]) if rows[i + 2] else None) for i in range(0, len(rows), 3)]
    return out


def seen_snapshot_key(token: str) -> str:
    return f"{SEEN_KEY}:snapshot:{token}"


# A snapshot of the last-seen set outlives a reader that died before deleting it by this long.
SEEN_SNAPSHOT_TTL = 60

# KEYS: a snapshot of the seen set. ARGV: driver hash prefix, state wanted, first rank, last rank.
# Flat (lat, lng) of the drivers of those ranks in that state: only those positions cross the wire.
_POSITIONS_IN_STATE = """
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[3], ARGV[4])) do
  local row = redis.call('HMGET', ARGV[1] .. id, 'state', 'lat', 'lng')
  if row[1] == ARGV[2] and row[2] and row[3] then
    out[#out + 1] = row[2]
    out[#out + 1] = row[3]
  end
end
return out
"""


def positions_in_state_since(cutoff: float, state: str) -> Iterator[list[tuple[float, float]]]:
    """(lat, lng) of every driver seen since ``cutoff`` whose state is ``state``, a chunk at a time.

    The drivers are those of one moment (the last-seen set copied inside Redis, ``ZRANGESTORE``),
    read ``POSITIONS_CHUNK`` at a time so Redis keeps serving between chunks; neither their ids nor
    the other drivers' positions leave Redis. The next chunk is read while the caller works on
    this one.
    """
    client = get_redis()
    snapshot = seen_snapshot_key(secrets.token_hex(8))
    pipe = client.pipeline(transaction=True)
    pipe.zrangestore(snapshot, SEEN_KEY, cutoff, "+inf", byscore=True)
    pipe.expire(snapshot, SEEN_SNAPSHOT_TTL)
    count = pipe.execute()[0]

    def read(first: int) -> list[tuple[float, float]]:
        rows = _run(_POSITIONS_IN_STATE, [snapshot], [DRIVER_PREFIX, state, first, first + POSITIONS_CHUNK - 1])
        return list(zip(map(float, rows[0::2]), map(float, rows[1::2]), strict=True))

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="rides-positions") as reader:
            pending = reader.submit(read, 0) if count else None
            for first in range(0, count, POSITIONS_CHUNK):
                chunk = pending.result()
                if first + POSITIONS_CHUNK < count:
                    pending = reader.submit(read, first + POSITIONS_CHUNK)
                yield chunk
    finally:
        client.delete(snapshot)


class GeoHit(NamedTuple):  # a tuple: searches build many of them
    driver_id: int
    distance_m: float
    lat: float
    lng: float


def geo_search(*, area: str, vehicle_type: str, lat: float, lng: float, radius_m: float, count: int) -> list[GeoHit]:
    """Drivers indexed within ``radius_m`` of a point, nearest first (GEOSEARCH … ASC COUNT)."""
    rows = get_redis().geosearch(
        geo_key(area, vehicle_type), longitude=lng, latitude=lat, radius=radius_m, unit="m",
        sort="ASC", count=count, withdist=True, withcoord=True,
    )
    return [GeoHit(int(member), float(dist), float(coord[1]), float(coord[0])) for member, dist, coord in rows]


# KEYS: seen, areas version, then the GEO sets to search. ARGV: lng, lat, radius (m), count per set,
# cutoff, state wanted, driver hash prefix, first radius, hits wanted per set, areas version ("": not
# checked), the service area's surface (m², 0: unknown).
# Per set: the free drivers (state as wanted, seen at or after the cutoff) among the nearest
# ``count`` members within the radius, nearest first, at most ``wanted`` of them: the search and
# both filters in one round trip. GEOSEARCH reads every member of the geohash boxes around its
# circle, so its cost grows with the circle's surface: the circle starts small and doubles until
# it holds ``wanted`` free drivers, or ``count`` members, or reaches the radius. Any of the three
# gives the same drivers as one search of the whole radius would (the members of a smaller circle
# are the nearest of a larger one). The first circle is the one expected to hold twice ``wanted``
# members were the set spread evenly over the area's surface (else the first radius given).
# Returns {"ok", flat rows (member, distance, lng, lat) per set, nearest first within a set}, or
# {"areas"} when the caller's copy of the service areas (which chose the sets) is out of date.
SEARCH_FIRST_RADIUS_M = 250
_SEARCH_AVAILABLE = """
if ARGV[10] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[10] then return {'areas'} end
local out = {}
local radius, count, cutoff = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wanted, surface = math.min(tonumber(ARGV[9]), count), tonumber(ARGV[11])
for i = 3, #KEYS do
  local r = tonumber(ARGV[8])
  if surface > 0 then
    local members = redis.call('ZCARD', KEYS[i])
    if members > 0 then r = math.sqrt(2 * wanted * surface / (math.pi * members)) end
  end
  r = math.min(radius, r)
  local hits
  while true do
    local rows = redis.call('GEOSEARCH', KEYS[i], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', r, 'm',
                            'ASC', 'COUNT', count, 'WITHCOORD', 'WITHDIST')
    hits = {}
    for _, row in ipairs(rows) do
      if #hits >= wanted then break end
      local score = redis.call('ZSCORE', KEYS[1], row[1])
      if score and tonumber(score) >= cutoff and redis.call('HGET', ARGV[7] .. row[1], 'state') == ARGV[6] then
        hits[#hits + 1] = row
      end
    end
    if #hits >= wanted or #rows >= count or r >= radius then break end
    r = math.min(radius, r * 2)
  end
  for _, row in ipairs(hits) do
    out[#out + 1] = row[1]
    out[#out + 1] = row[2]
    out[#out + 1] = row[3][1]
    out[#out + 1] = row[3][2]
  end
end
return {'ok', out}
"""


def _search_keys_args(*, area: str, vehicle_types: list[str], lat: float, lng: float, radius_m: float, count: int,
                      seen_since: float, wanted: int | None, areas_version: str, area_m2: float) -> tuple[list, list]:
    keys = [SEEN_KEY, AREAS_VERSION_KEY, *(geo_key(area, vt) for vt in vehicle_types)]
    args = [lng, lat, radius_m, count, seen_since, DriverState.FREE, DRIVER_PREFIX, SEARCH_FIRST_RADIUS_M,
            count if wanted is None else wanted, areas_version, area_m2]
    return keys, args


def _hits(rows, sets: int) -> list[GeoHit]:
    hits = [GeoHit(int(rows[i]), float(rows[i + 1]), float(rows[i + 3]), float(rows[i + 2]))
            for i in range(0, len(rows), 4)]
    return sorted(hits, key=lambda h: h.distance_m) if sets > 1 else hits


def geo_search_free(*, area: str, vehicle_types: list[str], lat: float, lng: float, radius_m: float, count: int,
                    seen_since: float, wanted: int | None = None, area_m2: float = 0.0) -> list[GeoHit]:
    """Free drivers seen since ``seen_since`` among the ``count`` nearest of each vehicle type's GEO set
    within ``radius_m`` (at most ``wanted`` of each set), nearest first; one round trip. ``area_m2``,
    the service area's surface, only sizes the first search circle (see ``_SEARCH_AVAILABLE``)."""
    keys, args = _search_keys_args(area=area, vehicle_types=vehicle_types, lat=lat, lng=lng, radius_m=radius_m,
                                   count=count, seen_since=seen_since, wanted=wanted, areas_version="",
                                   area_m2=area_m2)
    reply = get_redis().eval(_SEARCH_AVAILABLE, len(keys), *keys, *args)
    return _hits(reply[1], len(vehicle_types))


async def ageo_search_free(*, area: str, vehicle_types: list[str], lat: float, lng: float, radius_m: float,
                           count: int, seen_since: float, wanted: int | None = None, area_m2: float = 0.0,
                           areas_version: str) -> list[GeoHit] | None:
    """``geo_search_free`` on the hot-path connection, for a caller that chose ``area`` from its copy
    of the service areas at ``areas_version``: None (nothing searched) once that copy is out of date."""
    keys, args = _search_keys_args(area=area, vehicle_types=vehicle_types, lat=lat, lng=lng, radius_m=radius_m,
                                   count=count, seen_since=seen_since, wanted=wanted, areas_version=areas_version,
                                   area_m2=area_m2)
    reply = await hotredis.connection().eval(_SEARCH_AVAILABLE, len(keys), *keys, *args)
    if _text(reply[0]) != "ok":
        return None
    return _hits(reply[1], len(vehicle_types))
