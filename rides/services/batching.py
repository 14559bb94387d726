"""Batched assignment: where supply is tight, requests arriving together are matched together.

A greedy dispatcher gives each request the best driver left when it arrives; with few drivers
that can send a driver across town to the first request while a second one waits beside them.
Where fewer than ``DISPATCH_BATCH_SUPPLY`` free drivers are within the first search radius of a
new request, it waits up to ``DISPATCH_BATCH_SECONDS`` with the other requests of its service
area and vehicle type; the batch is then assigned at once by minimum total pickup ETA (the
Hungarian method, ``scipy.optimize.linear_sum_assignment``). A lone request, and every request
the batch could not place, goes through the greedy ``ride_dispatch``. Offers are made by the same
``_offer`` under the same offer locks and row locks, so a batch racing anything else is safe.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from scipy.optimize import linear_sum_assignment

from rides import geo, selectors, store
from rides.models import Ride, RideStatus
from rides.services.dispatch import OfferOutcome, _offer, ride_dispatch

# The cost of a pair that may not be matched (a driver beyond the widest radius): it dominates
# every real ETA, so the assignment places as many requests as it can before minimising time.
UNREACHABLE_S = 1e9


def pickup_eta_matrix(pickups: list[tuple[float, float]], drivers: list[tuple[float, float]]) -> np.ndarray:
    """Pickup ETAs in seconds (requests × drivers) by great-circle × road factor / speed at this
    hour, the same rule as ``geo.eta_seconds``, computed for all pairs at once."""
    if not pickups or not drivers:
        return np.zeros((len(pickups), len(drivers)))
    p = np.radians(np.asarray(pickups, dtype=float))
    d = np.radians(np.asarray(drivers, dtype=float))
    lat1, lng1 = p[:, 0:1], p[:, 1:2]
    lat2, lng2 = d[:, 0][None, :], d[:, 1][None, :]
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    metres = 2 * geo.EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return np.rint(geo.road_distance_m(metres) / geo.speed_mps())


def _reachable(eta: np.ndarray, max_eta_s: float | None) -> np.ndarray:
    return np.ones(eta.shape, dtype=bool) if max_eta_s is None else eta <= max_eta_s


def assign_min_total(eta: np.ndarray, max_eta_s: float | None = None) -> list[tuple[int, int]]:
    """(request, driver) pairs with the smallest total ETA, as many requests placed as possible;
    pairs slower than ``max_eta_s`` are never made."""
    if eta.size == 0:
        return []
    reachable = _reachable(eta, max_eta_s)
    cost = np.where(reachable, eta, UNREACHABLE_S)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if reachable[r, c]]


def assign_greedy(eta: np.ndarray, max_eta_s: float | None = None) -> list[tuple[int, int]]:
    """What one-by-one dispatch does: each request in arrival order takes the quickest driver left."""
    if eta.size == 0:
        return []
    open_cost = np.where(_reachable(eta, max_eta_s), eta, np.inf)
    pairs = []
    for r in range(eta.shape[0]):
        c = int(np.argmin(open_cost[r]))  # the first of equals, as a stable sort would pick
        if np.isfinite(open_cost[r, c]):
            pairs.append((r, c))
            open_cost[:, c] = np.inf  # taken
    return pairs


def _total(eta: np.ndarray, pairs: list[tuple[int, int]]) -> int:
    return int(sum(eta[r, c] for r, c in pairs))


def batched_vs_greedy(pickups: list[tuple[float, float]], drivers: list[tuple[float, float]],
                      max_eta_s: float | None = None) -> dict:
    """Total pickup ETA of batched assignment against greedy dispatch on the same scenario
    (requests in arrival order, free drivers' positions); the simulator and the bench report it."""
    eta = pickup_eta_matrix(pickups, drivers)
    batched = assign_min_total(eta, max_eta_s)
    greedy = assign_greedy(eta, max_eta_s)
    return {
        "requests": len(pickups),
        "drivers": len(drivers),
        "batched": {"assigned": len(batched), "total_pickup_eta_s": _total(eta, batched)},
        "greedy": {"assigned": len(greedy), "total_pickup_eta_s": _total(eta, greedy)},
    }


# --- the dispatcher's side ------------------------------------------------------------------
def supply_is_tight(*, area: str, vehicle_type: str, lat: float, lng: float) -> bool:
    """Fewer than ``DISPATCH_BATCH_SUPPLY`` free, fresh drivers within the first search radius."""
    wanted = settings.DISPATCH_BATCH_SUPPLY
    return selectors.free_driver_count(area=area, vehicle_type=vehicle_type, lat=lat, lng=lng,
                                       radius_m=settings.DISPATCH_RADII_M[0], limit=wanted) < wanted


def _start(ride_id: int, area: str, vehicle_type: str, lat: float, lng: float) -> None:
    from rides.tasks import dispatch_batch, dispatch_ride

    window = settings.DISPATCH_BATCH_SECONDS
    if window <= 0 or not supply_is_tight(area=area, vehicle_type=vehicle_type, lat=lat, lng=lng):
        dispatch_ride.delay(ride_id)
        return
    if store.batch_add(area, vehicle_type, ride_id, time.time(), window):
        dispatch_batch.apply_async((area, vehicle_type), countdown=window)


def enqueue_request(ride: Ride) -> None:
    """After the request commits: dispatch it now, or (supply tight) add it to its area's batch."""
    ride_id, area, vehicle_type = ride.id, ride.service_area.slug, ride.vehicle_type
    lat, lng = ride.pickup_lat, ride.pickup_lng
    transaction.on_commit(lambda: _start(ride_id, area, vehicle_type, lat, lng))


@dataclass(frozen=True)
class BatchResult:
    batched: dict[int, int]  # ride → driver offered by the joint assignment
    greedy: list[int]  # rides left to the one-by-one dispatcher


def rides_dispatch_batch(*, area: str, vehicle_type: str) -> BatchResult:
    """Take the waiting batch of an area and vehicle type and offer its rides jointly.

    Idempotent and safe beside any other dispatch: rides no longer ``requested`` are skipped, an
    offer is made only under the driver's offer lock and the rows' locks, and a ride whose
    assigned driver was taken meanwhile falls back to ``ride_dispatch``.
    """
    ride_ids = store.batch_take(area, vehicle_type)
    rides = list(Ride.objects.filter(pk__in=ride_ids, status=RideStatus.REQUESTED).order_by("requested_at", "id"))
    offered: dict[int, int] = {}
    if len(rides) > 1:
        offered = _assign_jointly(rides, area=area, vehicle_type=vehicle_type)
    left = [ride.id for ride in rides if ride.id not in offered]
    for ride_id in left:
        ride_dispatch(ride_id=ride_id)
    return BatchResult(batched=offered, greedy=left)


def _assign_jointly(rides: list[Ride], *, area: str, vehicle_type: str) -> dict[int, int]:
    widest = settings.DISPATCH_RADII_M[-1]
    pool: dict[int, selectors.Candidate] = {}
    for ride in rides:
        for candidate in selectors.dispatch_candidates(area=area, vehicle_type=vehicle_type, lat=ride.pickup_lat,
                                                       lng=ride.pickup_lng, radius_m=widest):
            pool.setdefault(candidate.driver_id, candidate)
    drivers = list(pool.values())
    eta = pickup_eta_matrix([(r.pickup_lat, r.pickup_lng) for r in rides], [(d.lat, d.lng) for d in drivers])
    # The widest radius as an ETA bound: a pair further apart than dispatch would search is never made.
    max_eta = geo.eta_seconds(widest) if drivers else math.inf
    offered = {}
    for r, c in assign_min_total(eta, max_eta):
        ride, driver_id = rides[r], drivers[c].driver_id
        if not store.offer_lock_acquire(driver_id, ride.id, settings.DISPATCH_OFFER_SECONDS):
            continue
        if _offer(ride.id, driver_id) is OfferOutcome.OFFERED:
            offered[ride.id] = driver_id
        else:
            store.offer_lock_release(driver_id, ride.id)
    return offered
