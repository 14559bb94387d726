"""What dispatch holds in Redis: offer locks, the live-tracking throttle, batches of requests.

- ``rides:offer:{driver}``: the ride a driver holds an offer for (``SET NX``, ``DISPATCH_OFFER_SECONDS`` TTL).
- ``rides:location:sent:{ride}``: set (``SET NX PX``) while a ride's last ``driver.location`` frame
  is younger than ``RIDES_LOCATION_PUBLISH_SECONDS``: the throttle of live positions.
- ``rides:batch:{area}:{vehicle}``: sorted set ride → arrival time of requests waiting to be
  assigned together; ``rides:batch:open:{area}:{vehicle}`` (``SET NX``) exists while a flush of
  that batch is scheduled.
"""

from core.redis import get_redis
from rides.store.positions import driver_key


def offer_lock_key(driver_id: int) -> str:
    return f"rides:offer:{driver_id}"


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
