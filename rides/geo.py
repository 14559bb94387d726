"""Geometry without a routing engine: coordinates, great-circle distances, ETAs, polygons."""

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from core.errors import FieldError
from rides.errors import RideError

EARTH_RADIUS_M = 6_371_008.8


def parse_coordinate(field: str, value, *, kind: str) -> float:
    """A finite latitude (``kind="lat"``) or longitude (``"lng"``) in range; FieldError naming ``field``.

    Booleans are refused (JSON ``true`` is not a coordinate), so are NaN, infinities and strings
    that are not numbers.
    """
    limit = 90.0 if kind == "lat" else 180.0
    if isinstance(value, bool) or value is None or value == "":
        raise FieldError({field: "A number is required."}, code=RideError.INVALID_COORDINATE)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FieldError({field: "A number is required."}, code=RideError.INVALID_COORDINATE) from None
    if not math.isfinite(number):
        raise FieldError({field: "A finite number is required."}, code=RideError.INVALID_COORDINATE)
    if not -limit <= number <= limit:
        raise FieldError({field: f"Must be between -{limit:g} and {limit:g}."}, code=RideError.INVALID_COORDINATE)
    return number


def parse_point(data, field: str) -> tuple[float, float]:
    """``{"lat", "lng"}`` under ``field`` (e.g. ``pickup``) → (lat, lng)."""
    if not isinstance(data, dict):
        raise FieldError({field: 'An object {"lat", "lng"} is required.'})
    return (
        parse_coordinate(f"{field}.lat", data.get("lat"), kind="lat"),
        parse_coordinate(f"{field}.lng", data.get("lng"), kind="lng"),
    )


def great_circle_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Haversine distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def road_distance_m(great_circle: float) -> float:
    return great_circle * settings.RIDES_ROAD_FACTOR


def speed_mps(at: datetime | None = None) -> float:
    """Average road speed at the local hour of ``at`` (``RIDES_SPEED_KMH_BY_HOUR``, 24 values)."""
    local = (at or timezone.now()).astimezone(ZoneInfo(settings.RIDES_TIME_ZONE))
    return settings.RIDES_SPEED_KMH_BY_HOUR[local.hour] * 1000 / 3600


def eta_seconds(great_circle: float, at: datetime | None = None, *, speed: float | None = None) -> int:
    """Travel time for a great-circle distance: × road factor / speed by hour of day (``speed``:
    ``speed_mps(at)`` already known, when many ETAs share one moment)."""
    return round(road_distance_m(great_circle) / (speed if speed is not None else speed_mps(at)))


def polygon_area_m2(polygon: list[list[float]]) -> float:
    """Area of ``[[lat, lng], …]`` in square metres (shoelace formula on an equirectangular
    projection about the polygon's mean latitude: close enough for a city-sized area)."""
    lat0 = math.radians(sum(lat for lat, _ in polygon) / len(polygon))
    points = [(EARTH_RADIUS_M * math.radians(lng) * math.cos(lat0), EARTH_RADIUS_M * math.radians(lat))
              for lat, lng in polygon]
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice) / 2


def point_in_polygon(lat: float, lng: float, polygon: list[list[float]]) -> bool:
    """Ray casting over ``[[lat, lng], …]`` vertices (the polygon closes itself)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        lat_i, lng_i = polygon[i]
        lat_j, lng_j = polygon[i - 1]
        if (lng_i > lng) != (lng_j > lng):
            crossing = lat_i + (lng - lng_i) * (lat_j - lat_i) / (lng_j - lng_i)
            if lat < crossing:
                inside = not inside
    return inside
