"""A simulated city for ``manage.py rides_simulate``: drivers and riders who use the real REST API.

Every simulated person is a user with an in-process API client (DRF's ``APIClient``, the same
request → view → service path a phone takes, without a socket in between): drivers go online,
stream their positions in the batch form, poll their rides, accept or decline offers and drive
to the pickup and the dropoff; riders ask for an estimate, request at the quote and rate the
trip. Between steps the simulation does what beat does in production (expire due offers,
recompute surge, sweep silent drivers), so the operations dashboard fills up.

Time: each step is ``tick_s`` seconds of simulated driving; the caller decides how long a step
takes on the wall clock. Dispatch runs in-process (Celery eager) unless a worker is asked for.
"""

import math
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from rides import geo, store
from rides.models import Ride, RideEvent, ServiceArea
from rides.services import batching, dispatch, drivers, surge
from rides.transitions import Action

User = get_user_model()

ACTIVE = {"requested", "offered", "accepted", "arrived", "in_progress"}
FINISHED = {"completed", "cancelled", "no_drivers"}
ARRIVAL_M = 60.0  # close enough to a stop to call it reached
MIN_TRIP_M = 1200.0
SURGE_EVERY_S = 60.0


class SimulationError(Exception):
    """The simulation cannot run (no service area, a step the API refused unexpectedly)."""


def _call(client: APIClient, method: str, path: str, data=None, expect=(200, 201, 202)):
    response = getattr(client, method)(path, data, format="json") if method == "post" else client.get(path, data)
    if response.status_code not in expect:
        return None, response
    return response.json(), response


def _toward(here: tuple[float, float], there: tuple[float, float], metres: float) -> tuple[float, float]:
    gap = geo.great_circle_m(*here, *there)
    if gap <= metres:
        return there
    share = metres / gap
    return (here[0] + (there[0] - here[0]) * share, here[1] + (there[1] - here[1]) * share)


@dataclass
class SimDriver:
    user: object
    client: APIClient
    vehicle_type: str
    position: tuple[float, float]
    ride: dict | None = None
    accepted_eta_s: list = field(default_factory=list)


@dataclass
class SimRider:
    user: object
    client: APIClient
    ride_id: str | None = None
    status: str | None = None


@dataclass
class Figures:
    requests: int = 0
    refused: Counter = field(default_factory=Counter)
    accepted: int = 0
    declined: int = 0
    completed: int = 0
    outcomes: Counter = field(default_factory=Counter)
    pickup_etas_s: list = field(default_factory=list)
    location_updates: int = 0
    batched_eta_s: int = 0
    greedy_eta_s: int = 0
    batch_scenarios: int = 0
    ride_ids: list = field(default_factory=list)

    def dispatch_latencies_ms(self) -> list[float]:
        """Request → first offer of the simulated rides, from their stored events."""
        rides = dict(Ride.objects.filter(pk__in=self.ride_ids).values_list("id", "requested_at"))
        firsts: dict[int, object] = {}
        for ride_id, at in (RideEvent.objects.filter(ride_id__in=self.ride_ids, action=Action.OFFER)
                            .order_by("at").values_list("ride_id", "at")):
            firsts.setdefault(ride_id, at)
        return [(at - rides[ride_id]).total_seconds() * 1000 for ride_id, at in firsts.items()]

    def summary(self) -> dict:
        resolved = self.accepted + self.outcomes["no_drivers"]
        latencies = sorted(self.dispatch_latencies_ms())
        return {
            "requests": self.requests,
            "refused": dict(self.refused),
            "accepted": self.accepted,
            "declined_offers": self.declined,
            "completed": self.completed,
            "no_drivers": self.outcomes["no_drivers"],
            "match_rate": round(self.accepted / resolved, 3) if resolved else None,
            "mean_pickup_eta_s": round(statistics.fmean(self.pickup_etas_s)) if self.pickup_etas_s else None,
            "dispatch_latency_ms": {
                "p50": round(statistics.median(latencies), 1) if latencies else None,
                "p95": round(latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)], 1)
                if latencies else None,
                "samples": len(latencies),
            },
            "location_updates": self.location_updates,
            "batched_vs_greedy_total_pickup_eta_s": {
                "scenarios": self.batch_scenarios, "batched": self.batched_eta_s, "greedy": self.greedy_eta_s,
            },
        }


class City:
    """The simulated drivers and riders of one service area."""

    def __init__(self, *, drivers_count: int, riders_count: int, tick_s: float = 4.0, seed: int | None = None,
                 request_probability: float | None = None, accept_probability: float = 0.9,
                 area: str | None = None, prefix: str = "sim"):
        self.random = random.Random(seed)
        areas = ServiceArea.objects.filter(active=True).order_by("id")
        self.area = (areas.filter(slug=area) if area else areas).first()
        if self.area is None:
            raise SimulationError(f"No active service area{f' {area!r}' if area else ''} to simulate in.")
        self.tick_s = tick_s
        # By default each idle rider asks for a ride about once every two simulated minutes.
        self.request_probability = min(1.0, tick_s / 120) if request_probability is None else request_probability
        self.accept_probability = accept_probability
        self.figures = Figures()
        self.elapsed_s = 0.0
        self._last_surge = -SURGE_EVERY_S
        types = ["economy", "economy", "economy", "comfort", "xl"]
        self.drivers = [SimDriver(user, self._client(user), types[i % len(types)], self.random_point())
                        for i, user in enumerate(self._users(f"{prefix}-driver", drivers_count))]
        self.riders = [SimRider(user, self._client(user)) for user in self._users(f"{prefix}-rider", riders_count)]

    # --- set-up ---------------------------------------------------------------------------
    @staticmethod
    def _users(prefix: str, count: int) -> list:
        users = []
        for i in range(count):
            user, created = User.objects.get_or_create(username=f"{prefix}-{i}")
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            users.append(user)
        return users

    @staticmethod
    def _client(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    def random_point(self) -> tuple[float, float]:
        a = self.area
        for _ in range(1000):
            point = (self.random.uniform(a.min_lat, a.max_lat), self.random.uniform(a.min_lng, a.max_lng))
            if a.contains(*point):
                return point
        raise SimulationError(f"Could not place a point inside {a.slug}.")

    def start(self) -> None:
        for driver in self.drivers:
            body, response = _call(driver.client, "post", "/api/v1/rides/driver/online",
                                   {"vehicle_type": driver.vehicle_type, "lat": driver.position[0],
                                    "lng": driver.position[1]})
            if body is None:
                raise SimulationError(f"{driver.user.username} could not go online: {response.content[:200]!r}")

    def stop(self) -> None:
        """Drivers without a ride go offline; riders' open requests are cancelled."""
        for rider in self.riders:
            if rider.ride_id and rider.status in {"requested", "offered", "accepted", "arrived"}:
                _call(rider.client, "post", f"/api/v1/rides/{rider.ride_id}/cancel", {"reason": "simulation over"})
        for driver in self.drivers:
            _call(driver.client, "post", "/api/v1/rides/driver/offline", {})

    # --- one step -------------------------------------------------------------------------
    def step(self) -> None:
        self.elapsed_s += self.tick_s
        self._compare_batched_and_greedy()
        for rider in self.random.sample(self.riders, len(self.riders)):
            self._rider_step(rider)
        for driver in self.random.sample(self.drivers, len(self.drivers)):
            self._driver_step(driver)
        self._housekeeping()

    def _compare_batched_and_greedy(self) -> None:
        """This step's would-be requests against the free drivers, assigned both ways."""
        idle = [r for r in self.riders if r.status not in ACTIVE]
        if len(idle) < 2:
            return
        pickups = [self.random_point() for _ in idle[: max(2, len(idle) // 4)]]
        free = [d.position for d in self.drivers if d.ride is None]
        if not free:
            return
        result = batching.batched_vs_greedy(pickups, free)
        self.figures.batch_scenarios += 1
        self.figures.batched_eta_s += result["batched"]["total_pickup_eta_s"]
        self.figures.greedy_eta_s += result["greedy"]["total_pickup_eta_s"]

    def _rider_step(self, rider: SimRider) -> None:
        if rider.ride_id and rider.status in ACTIVE:
            body, _ = _call(rider.client, "get", f"/api/v1/rides/{rider.ride_id}")
            if body is not None:
                self._rider_saw(rider, body["status"])
            return
        if self.random.random() >= self.request_probability:
            return
        pickup = self.random_point()
        dropoff = self.random_point()
        while geo.great_circle_m(*pickup, *dropoff) < MIN_TRIP_M:
            dropoff = self.random_point()
        vehicle_type = self.random.choice(["economy", "economy", "economy", "comfort", "xl"])
        quote, response = _call(rider.client, "get", "/api/v1/rides/estimate", {
            "pickup_lat": pickup[0], "pickup_lng": pickup[1], "dropoff_lat": dropoff[0], "dropoff_lng": dropoff[1],
            "vehicle_type": vehicle_type})
        if quote is None:
            self.figures.refused[response.json().get("code", str(response.status_code))] += 1
            return
        ride, response = _call(rider.client, "post", "/api/v1/rides", {
            "pickup": {"lat": pickup[0], "lng": pickup[1]}, "dropoff": {"lat": dropoff[0], "lng": dropoff[1]},
            "vehicle_type": vehicle_type, "quote_id": quote["quote_id"]})
        if ride is None:
            self.figures.refused[response.json().get("code", str(response.status_code))] += 1
            return
        self.figures.requests += 1
        self.figures.ride_ids.append(int(ride["id"]))
        rider.ride_id, rider.status = ride["id"], None
        self._rider_saw(rider, ride["status"])

    def _rider_saw(self, rider: SimRider, status: str) -> None:
        if status == rider.status:
            return
        rider.status = status
        if status in FINISHED:
            self.figures.outcomes[status] += 1
        if status == "completed" and self.random.random() < 0.7:
            _call(rider.client, "post", f"/api/v1/rides/{rider.ride_id}/rate", {"stars": self.random.choice([4, 5, 5])})

    def _driver_step(self, driver: SimDriver) -> None:
        if driver.ride is None or driver.ride["status"] == "offered":
            self._driver_look_for_work(driver)
        ride = driver.ride
        metres = geo.speed_mps() * self.tick_s
        if ride is None:
            # Cruising: a short random walk that stays inside the area.
            step = _toward(driver.position, self.random_point(), metres * 0.5)
            driver.position = step if self.area.contains(*step) else driver.position
        elif ride["status"] in ("accepted", "arrived", "in_progress"):
            self._drive(driver, metres)
        self._send_position(driver)

    def _driver_look_for_work(self, driver: SimDriver) -> None:
        page, _ = _call(driver.client, "get", "/api/v1/rides", {"role": "driver", "page_size": 1})
        latest = (page or {}).get("results") or []
        ride = latest[0] if latest and latest[0]["status"] in ("offered", "accepted", "arrived", "in_progress") else None
        driver.ride = ride
        if ride is None or ride["status"] != "offered":
            return
        if self.random.random() < self.accept_probability:
            accepted, _ = _call(driver.client, "post", f"/api/v1/rides/{ride['id']}/accept")
            driver.ride = accepted
            if accepted is not None:
                self.figures.accepted += 1
                pickup = (accepted["pickup"]["lat"], accepted["pickup"]["lng"])
                self.figures.pickup_etas_s.append(geo.eta_seconds(geo.great_circle_m(*driver.position, *pickup)))
        else:
            _call(driver.client, "post", f"/api/v1/rides/{ride['id']}/decline")
            self.figures.declined += 1
            driver.ride = None

    def _drive(self, driver: SimDriver, metres: float) -> None:
        ride = driver.ride
        status = ride["status"]
        if status == "arrived":
            driver.ride, _ = _call(driver.client, "post", f"/api/v1/rides/{ride['id']}/start")
            return
        stop = ride["pickup"] if status == "accepted" else ride["dropoff"]
        target = (stop["lat"], stop["lng"])
        driver.position = _toward(driver.position, target, metres)
        if geo.great_circle_m(*driver.position, *target) > ARRIVAL_M:
            return
        action = "arrive" if status == "accepted" else "complete"
        updated, _ = _call(driver.client, "post", f"/api/v1/rides/{ride['id']}/{action}")
        if action == "complete" and updated is not None:
            self.figures.completed += 1
            updated = None
        driver.ride = updated  # None when the ride ended (completed, or cancelled meanwhile)

    def _send_position(self, driver: SimDriver) -> None:
        lat, lng = driver.position
        body, _ = _call(driver.client, "post", "/api/v1/rides/driver/location",
                        {"points": [{"lat": lat, "lng": lng, "ts": time.time()}]})
        if body is not None:
            self.figures.location_updates += body["accepted"]

    def _housekeeping(self) -> None:
        """What beat runs in production, on the simulation's clock."""
        dispatch.offers_expire_due()
        dispatch.rides_dispatch_stalled()
        drivers.drivers_sweep_stale()
        if self.elapsed_s - self._last_surge >= SURGE_EVERY_S:
            surge.surge_recompute()
            self._last_surge = self.elapsed_s

    def online_drivers(self) -> int:
        return len(store.drivers_seen_since(time.time() - settings.DRIVER_STALE_SECONDS))
