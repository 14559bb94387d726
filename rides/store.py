"""The rides app's Redis structures: key builders, TTLs and the only code that touches them.

- ``rides:drivers:geo:{area}:{vehicle}``: GEO set of online drivers in a service area, per
  vehicle type (the regional shard a search reads).
- ``rides:drivers:seen``: sorted set driver → last ping (epoch seconds). Redis GEO has no
  per-member TTL: searches skip drivers silent for ``DRIVER_STALE_SECONDS`` and a sweep removes them.
- ``rides:driver:{driver}``: hash of an online driver: ``state`` (free/offered/busy), ``vehicle``,
  ``area``, ``state_v`` (the ride event that set the state), the last indexed position ``ilat``/``ilng`` (moves shorter than
  ``DRIVER_MOVE_THRESHOLD_M`` are not re-indexed) and the latest ``lat``/``lng``/``heading``/``speed``/``ts``.
- ``rides:offer:{driver}``: the ride a driver holds an offer for (``SET NX``, ``DISPATCH_OFFER_SECONDS`` TTL).
- ``rides:location:sent:{ride}``: set (``SET NX PX``) while a ride's last ``driver.location`` frame
  is younger than ``RIDES_LOCATION_PUBLISH_SECONDS``: the throttle of live positions.
- ``rides:batch:{area}:{vehicle}``: sorted set ride → arrival time of requests waiting to be
  assigned together; ``rides:batch:open:{area}:{vehicle}`` (``SET NX``) exists while a flush of
  that batch is scheduled.
- ``rides:surge:{cell}``: hash ``multiplier``/``updated_at`` of an H3 cell with surge above 1.0;
  ``rides:surge:cells`` lists those cells and ``rides:surge:updated_at`` the last recompute.
"""

from dataclasses import dataclass

from core.redis import get_redis

SEEN_KEY = "rides:drivers:seen"
SURGE_CELLS_KEY = "rides:surge:cells"
SURGE_UPDATED_KEY = "rides:surge:updated_at"
# A published surge outlives a few missed recomputes, then falls back to 1.0 by itself.
SURGE_TTL = 600


class DriverState:
    FREE = "free"
    OFFERED = "offered"
    BUSY = "busy"


GEO_PREFIX = "rides:drivers:geo:"


def geo_key(area: str, vehicle_type: str) -> str:
    return f"{GEO_PREFIX}{area}:{vehicle_type}"


def driver_key(driver_id: int) -> str:
    return f"rides:driver:{driver_id}"


def offer_lock_key(driver_id: int) -> str:
    return f"rides:offer:{driver_id}"


def surge_key(cell: str) -> str:
    return f"rides:surge:{cell}"


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


# --- drivers ---------------------------------------------------------------------
def driver_get(driver_id: int) -> dict[str, str] | None:
    raw = get_redis().hgetall(driver_key(driver_id))
    return {_text(k): _text(v) for k, v in raw.items()} if raw else None


def driver_put(*, driver_id: int, fields: dict, area: str, vehicle_type: str, lat: float, lng: float,
               seen: float, reindex: bool, previous: dict | None = None) -> None:
    """Write a driver's hash and last-seen score, and (``reindex``) its position in the GEO set, in one pipeline.

    ``previous`` is the driver's hash before the write: a GEO set they leave (another area or
    vehicle type) loses them. An empty ``area`` (outside every service area) indexes nothing.
    """
    pipe = get_redis().pipeline(transaction=True)
    if previous and previous.get("area") and (previous["area"], previous.get("vehicle")) != (area, vehicle_type):
        pipe.zrem(geo_key(previous["area"], previous["vehicle"]), driver_id)
    pipe.hset(driver_key(driver_id), mapping={"area": area, "vehicle": vehicle_type,
                                              **{k: v for k, v in fields.items() if v is not None}})
    if reindex and area:
        pipe.geoadd(geo_key(area, vehicle_type), [lng, lat, driver_id])
    pipe.zadd(SEEN_KEY, {driver_id: seen})
    pipe.execute()


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


def drivers_positions(driver_ids: list[int]) -> list[tuple[str | None, float | None, float | None]]:
    """(state, lat, lng) of each driver, from their hashes."""
    pipe = get_redis().pipeline(transaction=False)
    for driver_id in driver_ids:
        pipe.hmget(driver_key(driver_id), "state", "lat", "lng")
    out = []
    for state, lat, lng in pipe.execute():
        out.append((_text(state), float(lat) if lat else None, float(lng) if lng else None))
    return out


@dataclass(frozen=True)
class GeoHit:
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


# --- offers ----------------------------------------------------------------------
def offer_lock_acquire(driver_id: int, ride_id: int, ttl: int) -> bool:
    return bool(get_redis().set(offer_lock_key(driver_id), ride_id, nx=True, ex=ttl))


# KEYS: lock. ARGV: expected ride id. Deletes the lock only while it still holds that ride.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def offer_lock_release(driver_id: int, ride_id: int) -> bool:
    return bool(get_redis().eval(_RELEASE, 1, offer_lock_key(driver_id), str(ride_id)))


# KEYS: lock, driver hash. ARGV: ride id, new state, version (the transition's event id).
# Ends the ride's hold on the driver: the lock goes if it is still this ride's; a driver set
# free keeps the state of another ride's offer they hold meanwhile (its lock outlived ours);
# a state older than the driver's last one is not written (see _SET_STATE).
_OFFER_FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
elseif ARGV[2] == 'free' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
if tonumber(ARGV[3]) < tonumber(redis.call('HGET', KEYS[2], 'state_v') or '0') then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'state_v', ARGV[3])
return 1
"""


def offer_finish(driver_id: int, ride_id: int, state: str, version: int) -> bool:
    return bool(get_redis().eval(_OFFER_FINISH, 2, offer_lock_key(driver_id), driver_key(driver_id),
                                 str(ride_id), state, version))


def offer_lock_holder(driver_id: int) -> int | None:
    value = get_redis().get(offer_lock_key(driver_id))
    return int(value) if value else None


# --- live tracking ------------------------------------------------------------------
def location_sent_key(ride_id: int) -> str:
    return f"rides:location:sent:{ride_id}"


def location_publish_slot(ride_id: int, interval_s: float) -> bool:
    """True at most once per ``interval_s`` per ride (the caller then sends the position)."""
    return bool(get_redis().set(location_sent_key(ride_id), 1, nx=True, px=max(1, int(interval_s * 1000))))


# --- batched assignment ------------------------------------------------------------
def batch_key(area: str, vehicle_type: str) -> str:
    return f"rides:batch:{area}:{vehicle_type}"


def batch_open_key(area: str, vehicle_type: str) -> str:
    return f"rides:batch:open:{area}:{vehicle_type}"


# A batch nobody flushed (its task lost) is dropped with its key; the stalled-ride sweep
# dispatches its rides one by one.
BATCH_TTL = 60


def batch_add(area: str, vehicle_type: str, ride_id: int, now: float, window_s: float) -> bool:
    """Add a request to its area's batch; True when the caller opened the batch and must
    schedule its flush after ``window_s``."""
    pipe = get_redis().pipeline(transaction=True)
    pipe.zadd(batch_key(area, vehicle_type), {ride_id: now})
    pipe.expire(batch_key(area, vehicle_type), BATCH_TTL)
    pipe.set(batch_open_key(area, vehicle_type), 1, nx=True, px=max(1, int(window_s * 1000)) + BATCH_TTL * 1000)
    return bool(pipe.execute()[2])


# KEYS: batch, open flag. Takes every waiting request and closes the batch in one step, so a
# request arriving meanwhile opens the next batch instead of being lost between the two.
_BATCH_TAKE = """
local rides = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return rides
"""


def batch_take(area: str, vehicle_type: str) -> list[int]:
    """The waiting requests of a batch, oldest first; the batch is empty and closed afterwards."""
    rows = get_redis().eval(_BATCH_TAKE, 2, batch_key(area, vehicle_type), batch_open_key(area, vehicle_type))
    return [int(r) for r in rows]


# --- surge -----------------------------------------------------------------------
def surge_get(cell: str) -> tuple[float, float | None]:
    """(multiplier, updated_at epoch) of a cell; 1.0 when none is published."""
    multiplier, updated = get_redis().hmget(surge_key(cell), "multiplier", "updated_at")
    if multiplier is None:
        return 1.0, None
    return float(multiplier), float(updated)


def surge_cells() -> dict[str, float]:
    """Cells with a published surge → their multiplier."""
    cells = [_text(c) for c in get_redis().smembers(SURGE_CELLS_KEY)]
    pipe = get_redis().pipeline(transaction=False)
    for cell in cells:
        pipe.hget(surge_key(cell), "multiplier")
    return {cell: float(m) for cell, m in zip(cells, pipe.execute(), strict=True) if m is not None}


def surge_publish(multipliers: dict[str, float], *, now: float) -> None:
    """Replace the published surge: cells above 1.0 get a hash, the others lose theirs."""
    client = get_redis()
    previous = {_text(c) for c in client.smembers(SURGE_CELLS_KEY)}
    pipe = client.pipeline(transaction=True)
    for cell in previous - {c for c, m in multipliers.items() if m > 1.0}:
        pipe.delete(surge_key(cell))
        pipe.srem(SURGE_CELLS_KEY, cell)
    for cell, multiplier in multipliers.items():
        if multiplier > 1.0:
            pipe.hset(surge_key(cell), mapping={"multiplier": multiplier, "updated_at": now})
            pipe.expire(surge_key(cell), SURGE_TTL)
            pipe.sadd(SURGE_CELLS_KEY, cell)
    pipe.expire(SURGE_CELLS_KEY, SURGE_TTL)
    pipe.set(SURGE_UPDATED_KEY, now, ex=SURGE_TTL)
    pipe.execute()


def surge_updated_at() -> float | None:
    value = get_redis().get(SURGE_UPDATED_KEY)
    return float(value) if value else None
