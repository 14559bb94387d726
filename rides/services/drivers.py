"""Drivers going online and offline and streaming their positions into Redis GEO."""

import json
import math
import time
from operator import itemgetter

from django.conf import settings
from django.contrib.auth import get_user_model

from core.hotdb import run_db
from rides import errors, events, geo, selectors, store
from rides.models import DRIVER_ACTIVE, DriverProfile, RideStatus, VehicleType
from rides.store import DriverState

User = get_user_model()

MAX_BATCH_POINTS = 50
MAX_SPEED_MPS = 100.0
# A client clock may run a little ahead; a point further in the future is refused.
MAX_CLOCK_SKEW_S = 60


_VEHICLE_TYPES = frozenset(VehicleType.values)


def parse_vehicle_type(value, field: str = "vehicle_type") -> str:
    if not isinstance(value, str) or value not in _VEHICLE_TYPES:
        raise errors.invalid(field, f"One of {', '.join(VehicleType.values)}.")
    return value


def _state_from_database(driver_id: int) -> str:
    if selectors.driver_has_ride(driver_id, DRIVER_ACTIVE):
        return DriverState.BUSY
    if selectors.driver_has_ride(driver_id, (RideStatus.OFFERED,)):
        return DriverState.OFFERED
    return DriverState.FREE


def driver_online(*, user: User, vehicle_type, lat, lng) -> dict:
    """Index the driver at a position inside a service area, with the state their rides give them.

    Raises FieldError for a bad vehicle type or coordinates, ``outside_service_area`` (400).
    """
    vehicle_type = parse_vehicle_type(vehicle_type)
    lat = geo.parse_coordinate("lat", lat, kind="lat")
    lng = geo.parse_coordinate("lng", lng, kind="lng")
    area = selectors.service_area_required(lat, lng, field="lat")
    DriverProfile.objects.update_or_create(user=user, defaults={"vehicle_type": vehicle_type})
    state = _state_from_database(user.id)
    now = time.time()
    store.driver_put(
        driver_id=user.id, area=area.slug, vehicle_type=vehicle_type, lat=lat, lng=lng, seen=now, reindex=True,
        previous=store.driver_get(user.id),
        fields={"state": state, "lat": lat, "lng": lng, "ilat": lat, "ilng": lng, "ts": now},
    )
    return {"status": "online", "state": state, "vehicle_type": vehicle_type, "service_area": area.slug}


def driver_offline(*, user: User) -> None:
    """Leave search. An open offer is declined; a driver with an active ride gets 409 ``driver_busy``."""
    from rides.services.dispatch import ride_decline

    if selectors.driver_has_ride(user.id, DRIVER_ACTIVE):
        raise errors.driver_busy()
    offered = selectors.driver_has_ride(user.id, (RideStatus.OFFERED,))
    if offered:
        ride_decline(driver=user, ride_id=offered.id, reason="driver went offline")
    store.driver_remove(user.id)


def _optional_number(field: str, value, low: float, high: float) -> float | None:
    if value is None:
        return None
    try:
        finite = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise errors.invalid(field, "A finite number is required.")
    if not low <= value <= high:
        raise errors.invalid(field, f"Must be between {low:g} and {high:g}.")
    return float(value)


def _checked_point(point, prefix: str, now: float) -> dict:
    """One point parsed field by field; FieldError naming the first bad field (``ts`` is checked first)."""
    if not isinstance(point, dict):
        raise errors.invalid(prefix.rstrip(".") or "points", 'An object {"lat", "lng"} is required.')
    ts = _optional_number(f"{prefix}ts", point.get("ts"), 0, now + MAX_CLOCK_SKEW_S)
    return {
        "lat": geo.parse_coordinate(f"{prefix}lat", point.get("lat"), kind="lat"),
        "lng": geo.parse_coordinate(f"{prefix}lng", point.get("lng"), kind="lng"),
        "heading": _optional_number(f"{prefix}heading", point.get("heading"), 0, 360),
        "speed": _optional_number(f"{prefix}speed", point.get("speed"), 0, MAX_SPEED_MPS),
        "ts": ts if ts is not None else now,
    }


_NUMBERS = (float, int)  # exact types: JSON gives no subclasses, and a bool is not a number here


def _plain_points(points: list, now: float) -> list[dict] | None:
    """What ``_checked_point`` gives for each point when every field of every point is an in-range
    JSON number (the common case, in a fraction of the time); None as soon as one is anything else
    (``_checked_point`` then parses them, or names what is wrong). A comparison with NaN is false,
    so NaN is never plain."""
    latest = now + MAX_CLOCK_SKEW_S
    parsed = []
    for point in points:
        if type(point) is not dict:
            return None
        lat, lng = point.get("lat"), point.get("lng")
        if not (type(lat) in _NUMBERS and type(lng) in _NUMBERS and -90 <= lat <= 90 and -180 <= lng <= 180):
            return None
        if len(point) == 2:  # lat and lng only
            parsed.append({"lat": float(lat), "lng": float(lng), "heading": None, "speed": None, "ts": now})
            continue
        heading, speed, ts = point.get("heading"), point.get("speed"), point.get("ts")
        if heading is not None and not (type(heading) in _NUMBERS and 0 <= heading <= 360):
            return None
        if speed is not None and not (type(speed) in _NUMBERS and 0 <= speed <= MAX_SPEED_MPS):
            return None
        if ts is not None and not (type(ts) in _NUMBERS and 0 <= ts <= latest):
            return None
        parsed.append({"lat": float(lat), "lng": float(lng), "heading": None if heading is None else float(heading),
                       "speed": None if speed is None else float(speed), "ts": now if ts is None else float(ts)})
    return parsed


def parse_points(data, now: float) -> list[dict]:
    """The single form ``{"lat", "lng", "heading"?, "speed"?, "ts"?}`` or ``{"points": [...]}`` (≤ 50).

    Each point becomes ``{"lat", "lng", "heading", "speed", "ts"}`` (floats; heading and speed
    None when not given, ts ``now``). Raises FieldError naming the first bad field.
    """
    if not isinstance(data, dict):
        raise errors.invalid("non_field_errors", "A JSON object is required.")
    if "points" in data:
        points = data["points"]
        if not isinstance(points, list) or not 1 <= len(points) <= MAX_BATCH_POINTS:
            raise errors.invalid("points", f"A list of 1 to {MAX_BATCH_POINTS} points.")
        batch = True
    else:
        points, batch = [data], False
    plain = _plain_points(points, now)
    if plain is not None:
        return plain
    return [_checked_point(point, f"points[{i}]." if batch else "", now) for i, point in enumerate(points)]


def history_body(points: list[dict]) -> str:
    """Parsed points as a location body for the history stream (``parse_points`` reads it back as is)."""
    return json.dumps({"points": points}, separators=(",", ":"))


_TS = itemgetter("ts")


def location_write(*, driver_id: int, points: list[dict], now: float, area_map: selectors.ServiceAreaMap,
                   history: bytes | str | None = None) -> store.LocationWrite:
    """The store write of parsed ``points``: the newest (latest ``ts``, the first of equals) moves the
    driver; ``history`` is the body kept for every point (``history_body(points)`` when None)."""
    newest = max(points, key=_TS)
    lat, lng = newest["lat"], newest["lng"]
    return store.LocationWrite(
        driver_id=driver_id, now=now, lat=lat, lng=lng, heading=newest["heading"], speed=newest["speed"],
        ts=newest["ts"], move_threshold_m=float(settings.DRIVER_MOVE_THRESHOLD_M),
        earth_radius_m=geo.EARTH_RADIUS_M, areas_version=area_map.version, area=area_map.slug_at(lat, lng),
        history=history if history is not None else history_body(points))


# A write is refused while the caller's copy of the service areas is older than the areas; it is
# reloaded and the write tried again, this many times in all.
AREA_ATTEMPTS = 3


def _accepted(located: store.Located, points: list[dict]) -> int:
    if located.outcome == store.Located.OFFLINE:
        raise errors.driver_offline()
    if located.outcome == store.Located.AREAS:
        raise RuntimeError("the service areas kept changing during a location write")
    return len(points)


def _announces(located: store.Located) -> bool:
    return located.outcome == store.Located.STORED and located.state == DriverState.BUSY


def driver_location(*, user: User, data, history: bytes | str | None = None) -> int:
    """Record an online driver's newest position; returns how many points were accepted.

    Points older than the newest already stored only refresh the last-seen time. The GEO index
    moves only when the driver moved at least ``DRIVER_MOVE_THRESHOLD_M`` from where it was
    indexed or changed service area; outside every area the driver stays online but leaves search.
    Every point goes to the location history (``history`` is the body kept for them; the parsed
    points when None). All of it is one Redis step (``store.driver_locate``). A driver on a ride
    sends the newest position to the ride's watchers (``driver.location``, at most once per
    ``RIDES_LOCATION_PUBLISH_SECONDS``). The HTTP endpoint, its hot path and the driver's socket
    all apply this (``adriver_location`` is the same for async callers). Raises FieldError naming
    the bad field, ``driver_offline`` (409).
    """
    now = time.time()
    return driver_location_points(driver_id=user.id, points=parse_points(data, now), now=now, history=history)


def driver_location_points(*, driver_id: int, points: list[dict], now: float,
                           history: bytes | str | None = None) -> int:
    """``driver_location`` of points ``parse_points`` gave at ``now``. Async callers whose own Redis
    connection failed them come back here on a worker thread: the same points at the same ``now``
    are the same write (history rows included), should the first attempt have landed after all."""
    area_map = selectors.service_area_map()
    for _ in range(AREA_ATTEMPTS):
        write = location_write(driver_id=driver_id, points=points, now=now, area_map=area_map, history=history)
        located = store.driver_locate(write)
        if located.outcome != store.Located.AREAS:
            break
        area_map = selectors.service_area_map(reload=True)
    accepted = _accepted(located, points)
    if _announces(located):
        _announce_position(driver_id, lat=write.lat, lng=write.lng, heading=write.heading)
    return accepted


async def adriver_location(*, driver_id: int, points: list[dict], now: float,
                           history: bytes | str | None = None) -> int:
    """``driver_location`` for async callers, on the event loop, of points ``parse_points`` gave at
    ``now``: one call on the hot-path Redis connection; the database (areas to reload, a ride to
    announce a busy driver's position to) on a worker thread. Raises ``driver_offline`` (409), and
    ConnectionError/TimeoutError when Redis cannot be reached in time."""
    area_map = selectors.service_area_map_cached() or await run_db(selectors.service_area_map)
    for _ in range(AREA_ATTEMPTS):
        write = location_write(driver_id=driver_id, points=points, now=now, area_map=area_map, history=history)
        located = await store.adriver_locate(write)
        if located.outcome != store.Located.AREAS:
            break
        area_map = await run_db(selectors.service_area_map, reload=True)
    accepted = _accepted(located, points)
    if _announces(located):
        await run_db(_announce_position, driver_id, lat=write.lat, lng=write.lng, heading=write.heading)
    return accepted


def _announce_position(driver_id: int, *, lat: float, lng: float, heading: float | None) -> None:
    ride = selectors.driver_has_ride(driver_id, events.LOCATION_STATUSES)
    if ride is None or not store.location_publish_slot(ride.id, settings.RIDES_LOCATION_PUBLISH_SECONDS):
        return
    frame = selectors.driver_location_frame(ride, lat=lat, lng=lng, heading=heading)
    if frame is not None:
        events.location_announce(ride_id=ride.id, driver_id=driver_id, frame=frame)


def drivers_sweep_stale(now: float | None = None) -> int:
    """Remove drivers silent for more than ``DRIVER_STALE_SECONDS`` from search; returns how many."""
    cutoff = (now or time.time()) - settings.DRIVER_STALE_SECONDS
    return sum(store.driver_remove_if_stale(driver_id, cutoff) for driver_id in store.drivers_seen_before(cutoff))
