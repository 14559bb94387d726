"""Reads behind the rides pages: a driver's day, the operations dashboard's figures."""

import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import h3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Sum
from django.utils import timezone

from rides import selectors, store
from rides.models import DRIVER_ACTIVE, DriverProfile, Ride, RideEvent, RideStatus, ServiceArea, VehicleType
from rides.transitions import Action

User = get_user_model()

# The dashboard draws at most this many driver dots and dispatch bars.
MAP_DRIVERS_LIMIT = 2000
DISPATCH_SAMPLE = 60
RIDES_WINDOW = timedelta(hours=24)


def _local_midnight(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(settings.RIDES_TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def driver_online(driver_id: int) -> bool:
    """Seen within ``DRIVER_STALE_SECONDS`` (a driver who went offline has no last-seen score)."""
    seen = store.drivers_last_seen([driver_id])[0]
    return seen is not None and seen >= time.time() - settings.DRIVER_STALE_SECONDS


def driver_day(*, user: User, now: datetime | None = None) -> dict:
    """A driver's standing: online or not, the ride they hold (offered or active), today's earnings.

    "Today" is the local day of ``RIDES_TIME_ZONE``; earnings are the totals of rides the driver
    completed since its midnight.
    """
    now = now or timezone.now()
    hash_ = store.driver_get(user.id)
    online = bool(hash_) and driver_online(user.id)
    current = (Ride.objects.filter(driver=user, status__in=(RideStatus.OFFERED, *DRIVER_ACTIVE))
               .order_by("-requested_at").values_list("id", flat=True).first())
    done = Ride.objects.filter(driver=user, status=RideStatus.COMPLETED, completed_at__gte=_local_midnight(now))
    totals = done.aggregate(total=Sum("fare_total"), rides=Count("id"))
    profile = DriverProfile.objects.filter(user=user).values_list("vehicle_type", flat=True).first()
    position = None
    if hash_ and hash_.get("lat"):
        position = {"lat": float(hash_["lat"]), "lng": float(hash_["lng"])}
    return {
        "online": online,
        "state": hash_.get("state") if online else None,
        "vehicle_type": (hash_ or {}).get("vehicle") or profile,
        "position": position,
        "ride": str(current) if current else None,
        "earnings": {"amount": f"{totals['total'] or Decimal(0):.2f}", "currency": settings.RIDES_CURRENCY,
                     "rides": totals["rides"]},
    }


def ride_tracking(*, user: User, ride_id) -> dict:
    """The frames a ride's socket opens with (``ride.status``, then ``driver.location`` while a
    driver is assigned), for a page that cannot keep the socket open and polls instead.

    For the ride's rider, its driver and staff only (NotFound for anyone else, as the API).
    """
    ride = selectors.ride_get(user=user, ride_id=ride_id)
    return {"frames": selectors.ride_live_state(ride.id)}


def share_view(token) -> dict | None:
    """What the share page shows of a ride behind a live share link; None for a dead link."""
    ride = selectors.ride_for_share(token)
    if ride is None:
        return None
    return {"ride": str(ride.id), "share": token, "vehicle_type": ride.vehicle_type,
            "pickup": {"lat": ride.pickup_lat, "lng": ride.pickup_lng},
            "dropoff": {"lat": ride.dropoff_lat, "lng": ride.dropoff_lng}}


def _online_drivers(now: float) -> tuple[dict, list[dict]]:
    ids = store.drivers_seen_since(now - settings.DRIVER_STALE_SECONDS)
    positions = store.drivers_positions(ids)
    types = dict(DriverProfile.objects.filter(user_id__in=ids).values_list("user_id", "vehicle_type"))
    counts = {vt: Counter() for vt in VehicleType.values}
    dots = []
    for driver_id, (state, lat, lng) in zip(ids, positions, strict=True):
        vehicle = types.get(driver_id)
        if vehicle is None or state is None:
            continue
        counts[vehicle][state] += 1
        if lat is not None and len(dots) < MAP_DRIVERS_LIMIT:
            dots.append({"lat": lat, "lng": lng, "state": state, "vehicle_type": vehicle})
    by_type = [{"vehicle_type": vt, "free": c[store.DriverState.FREE], "offered": c[store.DriverState.OFFERED],
                "busy": c[store.DriverState.BUSY], "total": sum(c.values())} for vt, c in counts.items()]
    return by_type, dots


def _rides_by_state(since: datetime) -> list[dict]:
    counts = dict(Ride.objects.filter(requested_at__gte=since).values_list("status").annotate(n=Count("id"))
                  .values_list("status", "n"))
    return [{"status": status, "count": counts.get(status, 0)} for status in RideStatus.values]


def _surge_cells() -> list[dict]:
    return [{"cell": cell, "multiplier": multiplier,
             "boundary": [[round(lat, 6), round(lng, 6)] for lat, lng in h3.cell_to_boundary(cell)]}
            for cell, multiplier in sorted(store.surge_cells().items())]


def _dispatch_times(since: datetime) -> list[dict]:
    """Request → first offer of the latest rides that got one, oldest first."""
    firsts = (RideEvent.objects.filter(action=Action.OFFER, ride__requested_at__gte=since)
              .values("ride_id", "ride__requested_at").annotate(first_offer=Min("at"))
              .order_by("-ride__requested_at")[:DISPATCH_SAMPLE])
    rows = [{"ride": str(row["ride_id"]), "requested_at": row["ride__requested_at"].isoformat(),
             "ms": max(0, round((row["first_offer"] - row["ride__requested_at"]).total_seconds() * 1000))}
            for row in firsts]
    return rows[::-1]


def operations_overview(now: datetime | None = None) -> dict:
    """What the operations dashboard shows: supply by vehicle type, rides of the last 24 h by state,
    the published surge cells with their hexagons, recent dispatch times and the service areas."""
    now = now or timezone.now()
    since = now - RIDES_WINDOW
    by_type, dots = _online_drivers(time.time())
    return {
        "generated_at": now.isoformat(),
        "drivers_by_type": by_type,
        "drivers": dots,
        "rides_by_state": _rides_by_state(since),
        "surge": {"resolution": settings.SURGE_RESOLUTION, "updated_at": store.surge_updated_at(),
                  "cells": _surge_cells()},
        "dispatch_times": _dispatch_times(since),
        "service_areas": service_area_outlines(),
    }


def service_area_outlines() -> list[dict]:
    return [{"slug": a.slug, "name": a.name, "polygon": a.polygon}
            for a in ServiceArea.objects.filter(active=True).order_by("id")]


def default_center() -> list[float]:
    """The middle of the first active service area (the maps open there)."""
    area = ServiceArea.objects.filter(active=True).order_by("id").first()
    if area is None:
        return [37.7749, -122.4194]
    return [round((area.min_lat + area.max_lat) / 2, 6), round((area.min_lng + area.max_lng) / 2, 6)]
