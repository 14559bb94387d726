"""Surge per H3 cell: levels, hysteresis, a known grid, and its way into the price."""

import time
from datetime import timedelta

import h3
import pytest
from django.conf import settings
from django.utils import timezone

from rides import store
from rides.models import Ride
from rides.services import trips
from rides.services.surge import surge_level, surge_recompute
from rides.tasks import recompute_surge
from tests.rides.conftest import DROPOFF, PICKUP, as_dict


@pytest.mark.parametrize(("supply", "demand", "current", "expected"), [
    (5, 0, 1.0, 1.0),  # no demand
    (10, 10, 1.0, 1.0),
    (5, 10, 1.0, 1.0),  # ratio 0.5: not below
    (4, 10, 1.0, 1.2),
    (2, 10, 1.0, 1.5),
    (1, 10, 1.0, 2.0),
    (0, 10, 1.0, 2.0),  # capped at the top level
    (0, 10, 1.5, 2.0),  # rising is immediate
    # falling waits until the ratio is 0.1 above the level's threshold
    (35, 100, 1.5, 1.5),
    (40, 100, 1.5, 1.2),
    (55, 100, 1.2, 1.2),
    (60, 100, 1.2, 1.0),
    (59, 100, 2.0, 1.2),
    (100, 100, 2.0, 1.0),
    (5, 0, 2.0, 1.0),  # demand gone
])
def test_surge_levels_with_hysteresis(supply, demand, current, expected):
    assert surge_level(supply=supply, demand=demand, current=current) == expected


def test_the_beat_recomputes_surge_every_60_s():
    entry = settings.CELERY_BEAT_SCHEDULE["rides-recompute-surge"]
    assert (entry["task"], entry["schedule"]) == ("rides.recompute_surge", 60.0)


CELL = h3.latlng_to_cell(*PICKUP, 8)
RING = set(h3.grid_disk(CELL, 1)) - {CELL}
# Three cells out, on the side away from the first ring cell (a set's order changes from run to run).
FAR_CELL = max(sorted(set(h3.grid_disk(CELL, 3)) - set(h3.grid_disk(CELL, 2))),
               key=lambda cell: h3.grid_distance(cell, sorted(RING)[0]))


@pytest.fixture
def demand(make_user):
    """``demand(n, cell)``: n rides requested just now at the centre of ``cell``."""

    def make(n: int, cell: str = CELL):
        point = h3.cell_to_latlng(cell)
        for _ in range(n):
            trips.ride_request(rider=make_user(), pickup=as_dict(point), dropoff=as_dict(DROPOFF),
                               vehicle_type="economy")

    return make


@pytest.fixture
def supply(make_driver):
    """``supply(n, cell)``: n free drivers online at the centre of ``cell``."""

    def make(n: int, cell: str = CELL):
        return [make_driver(h3.cell_to_latlng(cell)) for _ in range(n)]

    return make


@pytest.mark.django_db
def test_surge_on_a_known_grid_covers_the_cell_and_its_ring_and_steps_down_with_hysteresis(demand, supply):
    demand(10)
    drivers = supply(2)
    result = surge_recompute()
    # 2 drivers for 10 requests (ratio 0.2) over every disk that holds the cell.
    assert result == {cell: 1.5 for cell in {CELL} | RING}
    assert store.surge_get(CELL)[0] == 1.5 and store.surge_get(FAR_CELL)[0] == 1.0

    drivers += supply(1)  # ratio 0.3: no longer 1.5's, but within its hysteresis band (below 0.3 + 0.1)
    assert surge_recompute()[CELL] == 1.5
    drivers += supply(2)  # ratio 0.5: out of 1.5's band, within 1.2's (below 0.5 + 0.1)
    assert surge_recompute()[CELL] == 1.2
    drivers += supply(1)  # ratio 0.6: out of every band
    assert CELL not in surge_recompute()
    assert store.surge_get(CELL) == (1.0, None)


@pytest.mark.django_db
def test_demand_and_supply_count_over_the_ring(demand, supply):
    neighbour = sorted(RING)[0]
    demand(6, neighbour)
    supply(4, CELL)
    supply(3, FAR_CELL)  # too far to count anywhere near
    result = surge_recompute()
    # Disks holding both the requests and the drivers see 4 for 6 (ratio 0.67): no surge there;
    # the neighbour's own neighbours out of the drivers' reach see 0 for 6: the top level.
    beyond = set(h3.grid_disk(neighbour, 1)) - set(h3.grid_disk(CELL, 1))
    assert len(beyond) == 3
    assert result == {cell: 2.0 for cell in beyond}


@pytest.mark.django_db
def test_only_recent_requests_and_available_drivers_count(demand, supply):
    demand(10)
    Ride.objects.update(requested_at=timezone.now() - timedelta(seconds=301))
    assert surge_recompute() == {}

    demand(4)
    free, busy, silent = supply(3)
    store.driver_set_state(busy.id, "busy")
    store.get_redis().zadd(store.SEEN_KEY, {silent.id: time.time() - 31})
    assert surge_recompute()[CELL] == 1.5  # 1 driver for 4 requests


@pytest.mark.django_db
def test_the_task_publishes_and_the_estimate_prices_with_it(demand, auth_client):
    demand(3)
    assert recompute_surge.delay().get() == 7
    body = auth_client.get("/api/v1/rides/surge", as_dict(PICKUP)).json()
    assert body["multiplier"] == 2.0 and body["cell"] == CELL and body["updated_at"]
    estimate = auth_client.get("/api/v1/rides/estimate", {
        "pickup_lat": PICKUP[0], "pickup_lng": PICKUP[1], "dropoff_lat": DROPOFF[0], "dropoff_lng": DROPOFF[1],
        "vehicle_type": "economy",
    }).json()
    assert estimate["surge_multiplier"] == 2.0
    base = estimate["distance_m"] / 1000 * 1.10 + estimate["duration_s"] / 60 * 0.30 + 2.50
    assert float(estimate["fare"]["amount"]) == pytest.approx(max(base, 6.0) * 2, abs=0.02)
