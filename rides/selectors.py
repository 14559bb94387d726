"""Reads of the rides app: service areas, candidates, nearby drivers, rides scoped to their parties."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import h3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.ids import parse_id
from rides import errors, events, geo, store
from rides.models import DRIVER_ACTIVE, RIDER_ACTIVE, DriverProfile, Ride, RideStatus, ServiceArea, VehicleType

User = get_user_model()


def service_area_at(lat: float, lng: float) -> ServiceArea | None:
    """The first active service area whose polygon holds the point (bounding boxes filter in SQL).

    Written as SQL: requests and nearby searches through Django ask this, and the ORM's query
    building cost three times the query itself. Location writes and the hot path apply the same
    rule to this process's copy of the areas (``service_area_map``).
    """
    table = connection.ops.quote_name(ServiceArea._meta.db_table)
    candidates = ServiceArea.objects.raw(
        f"SELECT * FROM {table} WHERE active = %s AND min_lat <= %s AND max_lat >= %s"  # noqa: S608 - a model's table
        " AND min_lng <= %s AND max_lng >= %s ORDER BY id", [True, lat, lat, lng, lng])
    return next((area for area in candidates if area.contains(lat, lng)), None)


@dataclass(frozen=True)
class ServiceAreaMap:
    """The active service areas as they were at ``version`` (``store.areas_version``), in memory.

    ``slug_at`` applies ``service_area_at``'s rule (the first active area by id whose polygon holds
    the point) without the database. Writes and searches that rely on it name its version, and
    Redis refuses them once the areas have changed since (``store.Located.AREAS``).
    """

    version: str
    areas: tuple[ServiceArea, ...]
    loaded_at: float  # time.monotonic()
    sizes_m2: dict[str, float]  # slug -> surface: searches size their first circle by it

    def slug_at(self, lat: float, lng: float) -> str:
        """The slug of the area holding the point, or "" outside every area."""
        return next((area.slug for area in self.areas if area.contains(lat, lng)), "")



# A change made without the model's save() or delete() or the admin (a queryset update, SQL by
# hand) bumps no version: past this age a copy is reloaded anyway.
AREA_MAP_MAX_AGE_S = 60.0
_area_maps: list[ServiceAreaMap] = []  # this process's copy (one element at most)


def service_area_map_cached() -> ServiceAreaMap | None:
    """This process's copy of the areas if it is young enough to use, without any I/O (for async code)."""
    current = _area_maps[0] if _area_maps else None
    if current is None or time.monotonic() - current.loaded_at > AREA_MAP_MAX_AGE_S:
        return None
    return current


def service_area_map(*, reload: bool = False) -> ServiceAreaMap:
    """This process's copy of the active service areas, loaded when missing, old or ``reload`` is asked."""
    current = None if reload else service_area_map_cached()
    if current is None:
        # The version is read before the areas: a change committed after this read is a newer version.
        version = store.areas_version()
        areas = tuple(ServiceArea.objects.filter(active=True).order_by("id"))
        current = ServiceAreaMap(version=version, areas=areas, loaded_at=time.monotonic(),
                                 sizes_m2={area.slug: geo.polygon_area_m2(area.polygon) for area in areas})
        _area_maps[:] = [current]
    return current


def service_area_required(lat: float, lng: float, field: str = "pickup") -> ServiceArea:
    area = service_area_at(lat, lng)
    if area is None:
        raise errors.outside_service_area(field)
    return area


def surge_cell(lat: float, lng: float) -> str:
    return h3.latlng_to_cell(lat, lng, settings.SURGE_RESOLUTION)


def surge_at(lat: float, lng: float) -> dict:
    """The published surge of the point's H3 cell (1.0 where none is published)."""
    cell = surge_cell(lat, lng)
    multiplier, updated = store.surge_get(cell)
    updated = updated if updated is not None else store.surge_updated_at()
    return {
        "cell": cell,
        "resolution": settings.SURGE_RESOLUTION,
        "multiplier": multiplier,
        "updated_at": datetime.fromtimestamp(updated, tz=UTC).isoformat() if updated else None,
    }


# --- drivers -----------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    driver_id: int
    distance_m: float
    eta_s: int
    rating: float
    cost: float
    lat: float
    lng: float


def candidate_cost(*, eta_s: float, distance_m: float, rating: float) -> float:
    """The dispatch score (lower is better): weighted ETA minutes, distance km and stars short of 5."""
    return (settings.DISPATCH_WEIGHT_ETA * eta_s / 60
            + settings.DISPATCH_WEIGHT_DISTANCE * distance_m / 1000
            + settings.DISPATCH_WEIGHT_RATING * (5 - rating))


def _free_hits(*, area: str, vehicle_types: list[str], lat: float, lng: float, radius_m: float, count: int,
               now: float, wanted: int | None = None) -> list[store.GeoHit]:
    """Drivers among the ``count`` nearest (per vehicle type) who pinged within DRIVER_STALE_SECONDS
    and are free (at most ``wanted`` per type), nearest first: the search and both filters in one
    Redis round trip."""
    return store.geo_search_free(area=area, vehicle_types=vehicle_types, lat=lat, lng=lng, radius_m=radius_m,
                                 count=count, seen_since=now - settings.DRIVER_STALE_SECONDS, wanted=wanted)


SEARCH_COUNT = 50


def dispatch_candidates(*, area: str, vehicle_type: str, lat: float, lng: float, radius_m: float,
                        exclude: set[int] = frozenset(), now: float | None = None) -> list[Candidate]:
    """Free, fresh drivers within ``radius_m`` of the pickup, best (lowest cost) first."""
    now = now or time.time()
    hits = [h for h in _free_hits(area=area, vehicle_types=[vehicle_type], lat=lat, lng=lng, radius_m=radius_m,
                                  count=SEARCH_COUNT, now=now) if h.driver_id not in exclude]
    ratings = dict(DriverProfile.objects.filter(user_id__in=[h.driver_id for h in hits])
                   .values_list("user_id", "rating"))
    out = []
    for hit in hits:
        if hit.driver_id not in ratings:
            continue
        eta = geo.eta_seconds(hit.distance_m)
        rating = float(ratings[hit.driver_id])
        out.append(Candidate(hit.driver_id, hit.distance_m, eta, rating,
                             candidate_cost(eta_s=eta, distance_m=hit.distance_m, rating=rating), hit.lat, hit.lng))
    return sorted(out, key=lambda c: (c.cost, c.distance_m, c.driver_id))


def nearby_search(*, area: str, area_m2: float, lat: float, lng: float, radius_m: float, limit: int,
                  vehicle_type: str | None, now: float) -> dict:
    """The free-driver search of a nearby query (``store.geo_search_free``'s arguments)."""
    # Busy and silent drivers are filtered after the search: look at more than the limit.
    return {"area": area, "area_m2": area_m2, "vehicle_types": [vehicle_type] if vehicle_type else list(VehicleType.values),
            "lat": lat, "lng": lng, "radius_m": radius_m, "count": SEARCH_COUNT + limit,
            "seen_since": now - settings.DRIVER_STALE_SECONDS, "wanted": limit}


def nearby_rows(hits: list[store.GeoHit], *, limit: int, exact: bool) -> list[dict]:
    """The answer of a nearby query from its search's hits (see ``nearby_drivers``)."""
    hits = hits[:limit]
    speed = geo.speed_mps()
    if exact:
        return [{"driver": str(h.driver_id), "lat": h.lat, "lng": h.lng, "distance_m": round(h.distance_m),
                 "eta_s": geo.eta_seconds(h.distance_m, speed=speed)} for h in hits]
    # The ETA too comes from the rounded distance: an exact one would give the distance away.
    rounded = [(h, int(round(h.distance_m, -2))) for h in hits]
    return [{"lat": round(h.lat, 3), "lng": round(h.lng, 3), "distance_m": distance,
             "eta_s": geo.eta_seconds(distance, speed=speed)} for h, distance in rounded]


def nearby_drivers(*, lat: float, lng: float, radius_m: float, limit: int, vehicle_type: str | None,
                   exact: bool) -> list[dict]:
    """Free, fresh drivers near a point, nearest first.

    Without ``exact`` (everyone but staff) no identity is given and positions and distances
    are rounded to about 100 m, so a rider cannot follow or locate a particular driver.
    """
    area = service_area_required(lat, lng, field="lat")
    hits = store.geo_search_free(**nearby_search(area=area.slug, area_m2=geo.polygon_area_m2(area.polygon), lat=lat,
                                                 lng=lng, radius_m=radius_m, limit=limit, vehicle_type=vehicle_type,
                                                 now=time.time()))
    return nearby_rows(hits, limit=limit, exact=exact)


def free_driver_count(*, area: str, vehicle_type: str, lat: float, lng: float, radius_m: float,
                      limit: int) -> int:
    """How many free, fresh drivers are within ``radius_m`` (counting stops at ``limit``)."""
    hits = _free_hits(area=area, vehicle_types=[vehicle_type], lat=lat, lng=lng, radius_m=radius_m,
                      count=SEARCH_COUNT + limit, now=time.time(), wanted=limit)
    return min(limit, len(hits))


def nearest_pickup_eta(*, area: str, vehicle_type: str, lat: float, lng: float) -> int | None:
    for radius in settings.DISPATCH_RADII_M:
        hits = _free_hits(area=area, vehicle_types=[vehicle_type], lat=lat, lng=lng, radius_m=radius, count=5,
                          now=time.time(), wanted=1)
        if hits:
            return geo.eta_seconds(hits[0].distance_m)
    return None


def driver_has_ride(driver_id: int, statuses) -> Ride | None:
    return Ride.objects.filter(driver_id=driver_id, status__in=statuses).first()


# --- rides ---------------------------------------------------------------------------
def parse_ride_id(ride_id) -> int:
    try:
        value = int(ride_id)
    except (TypeError, ValueError):
        raise errors.ride_not_found() from None
    if not 0 < value < 2**63:
        raise errors.ride_not_found()
    return value


def _visible_to(user: User) -> Q:
    return Q() if user.is_staff else Q(rider=user) | Q(driver=user)


def ride_get(*, user: User, ride_id) -> Ride:
    """A ride its rider, its driver (offered or assigned) or staff may see; NotFound for anyone else."""
    ride = _with_relations(Ride.objects.filter(_visible_to(user), pk=parse_ride_id(ride_id))).first()
    if ride is None:
        raise errors.ride_not_found()
    return ride


def _with_relations(rides: QuerySet[Ride]) -> QuerySet[Ride]:
    return rides.select_related("rider", "driver", "driver__driver_profile")


def ride_with_relations(ride_id: int) -> Ride:
    return _with_relations(Ride.objects.filter(pk=ride_id)).get()


def ride_history(*, user: User, role: str) -> QuerySet[Ride]:
    """The caller's rides as rider or as driver, most recent first."""
    rides = Ride.objects.filter(rider=user) if role == "rider" else Ride.objects.filter(driver=user)
    return _with_relations(rides).order_by("-requested_at", "-id")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(value) -> str:
    return f"{value:.2f}"


def receipt_payload(ride: Ride) -> dict | None:
    if ride.status not in ("completed", "cancelled"):
        return None
    return {
        "currency": ride.currency,
        "base": _money(ride.fare_base),
        "distance": _money(ride.fare_distance),
        "time": _money(ride.fare_time),
        "surge": _money(ride.fare_surge),
        "surge_multiplier": float(ride.surge_multiplier),
        "cancellation_fee": _money(ride.cancellation_fee),
        "total": _money(ride.fare_total),
    }


def ride_payload(ride: Ride) -> dict:
    driver = None
    if ride.driver_id:
        profile = getattr(ride.driver, "driver_profile", None)
        driver = {
            "id": str(ride.driver_id),
            "username": ride.driver.username,
            "vehicle_type": profile.vehicle_type if profile else ride.vehicle_type,
            "rating": float(profile.rating) if profile else None,
        }
    return {
        "id": str(ride.id),
        "status": ride.status,
        "vehicle_type": ride.vehicle_type,
        "rider": {"id": str(ride.rider_id), "username": ride.rider.username},
        "driver": driver,
        "pickup": {"lat": ride.pickup_lat, "lng": ride.pickup_lng},
        "dropoff": {"lat": ride.dropoff_lat, "lng": ride.dropoff_lng},
        "fare": {"amount": _money(ride.estimated_fare), "currency": ride.currency},
        "surge_multiplier": float(ride.surge_multiplier),
        "distance_m": ride.distance_m,
        "duration_s": ride.duration_s,
        "quote_id": str(ride.quote_id) if ride.quote_id else None,
        "offer_expires_at": _iso(ride.offer_expires_at),
        "requested_at": _iso(ride.requested_at),
        "accepted_at": _iso(ride.accepted_at),
        "arrived_at": _iso(ride.arrived_at),
        "started_at": _iso(ride.started_at),
        "completed_at": _iso(ride.completed_at),
        "cancelled_at": _iso(ride.cancelled_at),
        "cancelled_by": ride.cancelled_by or None,
        "cancel_reason": ride.cancel_reason or None,
        "receipt": receipt_payload(ride),
    }


# --- live tracking ---------------------------------------------------------------------
# Share tokens are signed (HMAC with SECRET_KEY, a timestamp inside): unguessable and unforgeable.
SHARE_SALT = "rides.share"
MAX_SHARE_TOKEN_LENGTH = 200


def ride_for_share(token) -> Ride | None:
    """The ride a share link's ``token`` shows, while the link is valid and the ride has not
    ended; None for a forged, expired or dead link. The share page and the share socket call this."""
    if not isinstance(token, str) or not token or len(token) > MAX_SHARE_TOKEN_LENGTH:
        return None
    try:
        payload = signing.loads(token, salt=SHARE_SALT, max_age=settings.RIDES_SHARE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    ride_id = parse_id(payload.get("ride")) if isinstance(payload, dict) else None
    if ride_id is None:
        return None
    return _with_relations(Ride.objects.filter(pk=ride_id, status__in=RIDER_ACTIVE)).first()


class WatchRole:
    RIDER = "rider"
    DRIVER = "driver"
    STAFF = "staff"
    SHARE = "share"


def ride_watch_role(*, user, ride_id, share_token=None) -> tuple[Ride, str] | None:
    """Who may watch a ride live: its rider, its driver (offered or assigned), staff, or the
    holder of a live share link of this very ride. None for anyone else (and unknown rides)."""
    ride_id = parse_id(ride_id)
    if ride_id is None:
        return None
    if user is not None and user.is_authenticated:
        ride = Ride.objects.filter(_visible_to(user), pk=ride_id).first()
        if ride is not None:
            role = WatchRole.RIDER if ride.rider_id == user.id else (
                WatchRole.DRIVER if ride.driver_id == user.id else WatchRole.STAFF)
            return ride, role
    if share_token is not None:
        ride = ride_for_share(share_token)
        if ride is not None and ride.id == ride_id:
            return ride, WatchRole.SHARE
    return None


def _eta_to(target: tuple[float, float], lat: float, lng: float) -> int:
    return geo.eta_seconds(geo.great_circle_m(lat, lng, *target))


def driver_location_frame(ride: Ride, *, lat: float, lng: float, heading: float | None) -> dict | None:
    """``driver.location`` for a ride's watchers: the ETA is to the pickup while the driver
    approaches, 0 once arrived and to the dropoff during the trip. None in other states."""
    if ride.status == RideStatus.ACCEPTED:
        eta = _eta_to((ride.pickup_lat, ride.pickup_lng), lat, lng)
    elif ride.status == RideStatus.ARRIVED:
        eta = 0
    elif ride.status == RideStatus.IN_PROGRESS:
        eta = _eta_to((ride.dropoff_lat, ride.dropoff_lng), lat, lng)
    else:
        return None
    return events.driver_location(lat=lat, lng=lng, heading=heading, eta_s=eta)


def _driver_public(ride: Ride) -> dict | None:
    if not ride.driver_id:
        return None
    return events.driver_public(ride.driver, getattr(ride.driver, "driver_profile", None))


def ride_live_state(ride_id: int) -> list[dict]:
    """The frames a socket opening on a ride gets first: its ``ride.status``, then the assigned
    driver's last known ``driver.location`` when there is one."""
    ride = _with_relations(Ride.objects.filter(pk=ride_id)).first()
    if ride is None:
        return []
    frames = [events.ride_status(ride, driver=_driver_public(ride), at=timezone.now())]
    if ride.driver_id and ride.status in events.LOCATION_STATUSES:
        position = store.driver_get(ride.driver_id)
        if position and position.get("lat"):
            frame = driver_location_frame(ride, lat=float(position["lat"]), lng=float(position["lng"]),
                                          heading=float(position["heading"]) if position.get("heading") else None)
            frames.append(frame)
    return frames


def driver_live_state(driver_id: int) -> list[dict]:
    """The frames a driver's socket gets first: their open offer (unexpired) and the ride they
    are assigned to, if any."""
    frames = []
    offer = Ride.objects.filter(driver_id=driver_id, status=RideStatus.OFFERED,
                                offer_expires_at__gt=timezone.now()).first()
    if offer is not None:
        frames.append(events.ride_offer(offer))
    active = _with_relations(Ride.objects.filter(driver_id=driver_id, status__in=DRIVER_ACTIVE)).first()
    if active is not None:
        frames.append(events.ride_status(active, driver=_driver_public(active), at=timezone.now()))
    return frames


def is_driver(user) -> bool:
    return DriverProfile.objects.filter(pk=user.id).exists()
