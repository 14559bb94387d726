"""Fares and quotes: base + per km + per minute, times the surge of the pickup's H3 cell."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.ratelimit import RateLimit, enforce
from rides import geo, selectors, store
from rides.models import Quote

User = get_user_model()
CENT = Decimal("0.01")


def estimate_rate_rule() -> RateLimit:
    """Each estimate stores a quote: a client polling in a loop must not fill the table."""
    limit, period = getattr(settings, "RIDES_ESTIMATE_RATE_LIMIT", (60, 60.0))
    return RateLimit("rides-estimate", int(limit), float(period))

# Expired quotes no ride took are kept this long (for support questions), then purged.
QUOTE_RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Fare:
    base: Decimal
    distance: Decimal
    time: Decimal
    surge: Decimal
    total: Decimal


def fare_for(*, vehicle_type: str, distance_m: float, duration_s: float, surge_multiplier: Decimal) -> Fare:
    """The itemised fare. A trip below the vehicle's minimum has the difference added to ``base``;
    ``surge`` is the amount the multiplier adds on top of the rest."""
    table = {k: Decimal(v) for k, v in settings.RIDES_FARES[vehicle_type].items()}
    base = table["base"]
    distance = (table["per_km"] * Decimal(distance_m) / 1000).quantize(CENT, ROUND_HALF_UP)
    time = (table["per_min"] * Decimal(duration_s) / 60).quantize(CENT, ROUND_HALF_UP)
    base += max(Decimal(0), table["minimum"] - (base + distance + time))
    subtotal = base + distance + time
    surge = (subtotal * (surge_multiplier - 1)).quantize(CENT, ROUND_HALF_UP)
    return Fare(base=base.quantize(CENT), distance=distance, time=time, surge=surge, total=subtotal + surge)


def surge_multiplier_at(lat: float, lng: float) -> Decimal:
    multiplier, _ = store.surge_get(selectors.surge_cell(lat, lng))
    return Decimal(str(multiplier)).quantize(CENT)


@dataclass(frozen=True)
class Estimate:
    quote: Quote
    pickup_eta_s: int | None


def quote_create(*, owner: User, pickup: tuple[float, float], dropoff: tuple[float, float],
                 vehicle_type: str) -> Estimate:
    """Price a trip now and hold that price and surge for ``RIDES_QUOTE_SECONDS`` for ``owner``.

    Raises ApplicationError ``outside_service_area`` (400) when the pickup is in no service area,
    ``rate_limited`` (429) past ``estimate_rate_rule()`` per owner.
    """
    area = selectors.service_area_required(*pickup)
    enforce(estimate_rate_rule(), str(owner.id))
    now = timezone.now()
    distance_m = round(geo.road_distance_m(geo.great_circle_m(*pickup, *dropoff)))
    duration_s = geo.eta_seconds(geo.great_circle_m(*pickup, *dropoff), now)
    surge = surge_multiplier_at(*pickup)
    fare = fare_for(vehicle_type=vehicle_type, distance_m=distance_m, duration_s=duration_s, surge_multiplier=surge)
    quote = Quote.objects.create(
        owner=owner, vehicle_type=vehicle_type, pickup_lat=pickup[0], pickup_lng=pickup[1],
        dropoff_lat=dropoff[0], dropoff_lng=dropoff[1], amount=fare.total, currency=settings.RIDES_CURRENCY,
        surge_multiplier=surge, distance_m=distance_m, duration_s=duration_s,
        expires_at=now + timedelta(seconds=settings.RIDES_QUOTE_SECONDS),
    )
    eta = selectors.nearest_pickup_eta(area=area.slug, vehicle_type=vehicle_type, lat=pickup[0], lng=pickup[1])
    return Estimate(quote=quote, pickup_eta_s=eta)


def quotes_purge_expired() -> int:
    """Delete quotes expired for longer than ``QUOTE_RETENTION`` that no ride used; returns how many."""
    deleted, _ = Quote.objects.filter(expires_at__lt=timezone.now() - QUOTE_RETENTION, ride__isnull=True).delete()
    return deleted
