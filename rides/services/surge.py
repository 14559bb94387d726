"""Surge pricing per H3 cell: demand (recent requests) against supply (free drivers), with hysteresis."""

import math
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from itertools import starmap

import h3
from django.conf import settings
from django.utils import timezone

from rides import store
from rides.models import Ride
from rides.store import DriverState


def surge_level(*, supply: int, demand: int, current: float = 1.0) -> float:
    """The multiplier for a supply/demand ratio, given the cell's current multiplier.

    ``SURGE_LEVELS`` are (threshold, multiplier): a ratio below a threshold earns its multiplier
    (the highest earned wins; nothing above the highest level). Rising is immediate; a level is
    kept until the ratio climbs ``SURGE_HYSTERESIS`` above its threshold, so a cell near a
    threshold does not flap between two prices every minute.
    """
    ratio = supply / demand if demand else math.inf
    levels = sorted(settings.SURGE_LEVELS, key=lambda level: level[1])
    target = 1.0
    for threshold, multiplier in levels:
        if ratio < threshold:
            target = max(target, multiplier)
    if target >= current:
        return target
    for threshold, multiplier in reversed(levels):
        if target < multiplier <= current and ratio < threshold + settings.SURGE_HYSTERESIS:
            return multiplier
    return target


def _count_by_cell(points, resolution: int) -> Counter:
    return Counter(starmap(partial(_cell, resolution=resolution), points))


def _cell(lat: float, lng: float, resolution: int) -> str:
    return h3.latlng_to_cell(lat, lng, resolution)


def surge_recompute(now: float | None = None) -> dict[str, float]:
    """Recompute and publish every cell's multiplier (beat, every ``SURGE_INTERVAL_SECONDS``).

    Demand: rides requested within ``SURGE_WINDOW_SECONDS``; supply: free drivers seen within
    ``DRIVER_STALE_SECONDS``; both summed over the cell and its ring (``grid_disk(cell, 1)``).
    Returns the cells above 1.0 with their multipliers.
    """
    now = now or time.time()
    resolution = settings.SURGE_RESOLUTION
    since = timezone.now() - timedelta(seconds=settings.SURGE_WINDOW_SECONDS)
    demand = _count_by_cell(Ride.objects.filter(requested_at__gte=since).values_list("pickup_lat", "pickup_lng"),
                            resolution)
    supply = Counter()
    for chunk in store.positions_in_state_since(now - settings.DRIVER_STALE_SECONDS, DriverState.FREE):
        supply.update(_count_by_cell(chunk, resolution))
    current = store.surge_cells()
    cells = {c for cell in demand for c in h3.grid_disk(cell, 1)} | set(current)
    result = {}
    for cell in cells:
        ring = h3.grid_disk(cell, 1)
        level = surge_level(supply=sum(supply[c] for c in ring), demand=sum(demand[c] for c in ring),
                            current=current.get(cell, 1.0))
        if level > 1.0:
            result[cell] = level
    store.surge_publish(result, now=now)
    return result
