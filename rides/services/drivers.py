"""Drivers going online and offline and streaming their positions into Redis GEO."""

import math
import time

from django.conf import settings
from django.contrib.auth import get_user_model

from rides import errors, events, geo, selectors, store
from rides.models import DRIVER_ACTIVE, DriverProfile, RideStatus, VehicleType
from rides.store import DriverState

User = get_user_model()

MAX_BATCH_POINTS = 50
MAX_SPEED_MPS = 100.0
# A client clock may run a little ahead; a point further in the future is refused.
MAX_CLOCK_SKEW_S = 60


def parse_vehicle_type(value, field: str = "vehicle_type") -> str:
    if value not in VehicleType.values:
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


def parse_points(data, now: float) -> list[dict]:
    """The single form ``{"lat", "lng", "heading"?, "speed"?, "ts"?}`` or ``{"points": [...]}`` (≤ 50)."""
    if not isinstance(data, dict):
        raise errors.invalid("non_field_errors", "A JSON object is required.")
    if "points" in data:
        points = data["points"]
        if not isinstance(points, list) or not 1 <= len(points) <= MAX_BATCH_POINTS:
            raise errors.invalid("points", f"A list of 1 to {MAX_BATCH_POINTS} points.")
        prefixes = [f"points[{i}]." for i in range(len(points))]
    else:
        points, prefixes = [data], [""]
    parsed = []
    for point, prefix in zip(points, prefixes, strict=True):
        if not isinstance(point, dict):
            raise errors.invalid(prefix.rstrip(".") or "points", 'An object {"lat", "lng"} is required.')
        ts = _optional_number(f"{prefix}ts", point.get("ts"), 0, now + MAX_CLOCK_SKEW_S)
        parsed.append({
            "lat": geo.parse_coordinate(f"{prefix}lat", point.get("lat"), kind="lat"),
            "lng": geo.parse_coordinate(f"{prefix}lng", point.get("lng"), kind="lng"),
            "heading": _optional_number(f"{prefix}heading", point.get("heading"), 0, 360),
            "speed": _optional_number(f"{prefix}speed", point.get("speed"), 0, MAX_SPEED_MPS),
            "ts": ts if ts is not None else now,
        })
    return parsed


def driver_location(*, user: User, data) -> int:
    """Record an online driver's newest position; returns how many points were accepted.

    Points older than the newest already stored only refresh the last-seen time. The GEO index
    moves only when the driver moved at least ``DRIVER_MOVE_THRESHOLD_M`` from where it was
    indexed or changed service area; outside every area the driver stays online but leaves search.
    A driver on a ride sends the newest position to the ride's watchers (``driver.location``, at
    most once per ``RIDES_LOCATION_PUBLISH_SECONDS``). The HTTP endpoint and the driver's socket
    both call this. Raises FieldError naming the bad field, ``driver_offline`` (409).
    """
    now = time.time()
    points = parse_points(data, now)
    current = store.driver_get(user.id)
    if current is None:
        raise errors.driver_offline()
    newest = max(points, key=lambda p: p["ts"])
    vehicle_type, area = current["vehicle"], current.get("area", "")
    if newest["ts"] < float(current.get("ts") or 0):
        store.driver_put(driver_id=user.id, fields={}, area=area, vehicle_type=vehicle_type,
                         lat=newest["lat"], lng=newest["lng"], seen=now, reindex=False)
        return len(points)
    lat, lng = newest["lat"], newest["lng"]
    if current.get("ilat"):
        moved = geo.great_circle_m(float(current["ilat"]), float(current["ilng"]), lat, lng)
    else:
        moved = math.inf
    reindex = moved >= settings.DRIVER_MOVE_THRESHOLD_M
    fields = {"lat": lat, "lng": lng, "heading": newest["heading"], "speed": newest["speed"], "ts": newest["ts"]}
    if reindex:
        located = selectors.service_area_at(lat, lng)
        area = located.slug if located else ""
        fields |= {"ilat": lat, "ilng": lng}
    store.driver_put(driver_id=user.id, fields=fields, area=area, vehicle_type=vehicle_type, lat=lat, lng=lng,
                     seen=now, reindex=reindex, previous=current)
    if current.get("state") == DriverState.BUSY:
        _announce_position(user.id, lat=lat, lng=lng, heading=newest["heading"])
    return len(points)


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
