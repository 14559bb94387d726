"""The rides Redis structures: batched driver writes and the one-trip search of free drivers."""

import math
import time

import pytest
import redis

from rides import store
from rides.services import drivers
from tests.rides.conftest import PICKUP, as_dict, offset


@pytest.fixture
def round_trips(clean_redis, monkeypatch):
    """Counts the requests sent to Redis: each direct command and each pipeline execution."""
    count = {"n": 0}
    direct = clean_redis.execute_command
    pipelined = redis.client.Pipeline.execute

    def command(*args, **options):
        count["n"] += 1
        return direct(*args, **options)

    def execute(self, *args, **options):
        count["n"] += 1
        return pipelined(self, *args, **options)

    monkeypatch.setattr(clean_redis, "execute_command", command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    return count


def _write(driver_id, point, *, area="sf", vehicle_type="economy", seen=None, state="free", previous=None):
    lat, lng = point
    return store.DriverWrite(driver_id=driver_id, area=area, vehicle_type=vehicle_type, lat=lat, lng=lng,
                             seen=seen if seen is not None else time.time(), reindex=True, previous=previous,
                             fields={"state": state, "lat": lat, "lng": lng, "ilat": lat, "ilng": lng})


def test_many_drivers_are_written_in_one_round_trip(clean_redis, round_trips):
    writes = [_write(1000 + i, offset(PICKUP, 10 * i), vehicle_type="economy" if i % 2 else "comfort", seen=100.0 + i)
              for i in range(200)]
    store.drivers_put(writes)
    assert round_trips["n"] == 1
    assert clean_redis.zcard(store.geo_key("sf", "economy")) == 100
    assert clean_redis.zcard(store.geo_key("sf", "comfort")) == 100
    assert store.drivers_last_seen([1000, 1199]) == [100.0, 299.0]
    assert store.driver_get(1042) == {"area": "sf", "vehicle": "comfort", "state": "free",
                                      "lat": str(writes[42].lat), "lng": str(writes[42].lng),
                                      "ilat": str(writes[42].lat), "ilng": str(writes[42].lng)}
    (lng, lat), = clean_redis.geopos(store.geo_key("sf", "comfort"), 1042)
    assert (round(lat, 5), round(lng, 5)) == (round(writes[42].lat, 5), round(writes[42].lng, 5))


def test_a_driver_changing_vehicle_type_in_a_batch_leaves_the_old_geo_set(clean_redis):
    store.drivers_put([_write(7, PICKUP, vehicle_type="economy")])
    previous = store.driver_get(7)
    store.drivers_put([_write(7, PICKUP, vehicle_type="xl", previous=previous), _write(8, PICKUP)])
    assert clean_redis.zrange(store.geo_key("sf", "economy"), 0, -1) == [b"8"]
    assert clean_redis.zrange(store.geo_key("sf", "xl"), 0, -1) == [b"7"]


def test_an_empty_batch_sends_nothing(round_trips):
    store.drivers_put([])
    assert round_trips["n"] == 0


def test_free_drivers_search_skips_busy_and_silent_ones_nearest_first_in_one_round_trip(round_trips):
    now = time.time()
    store.drivers_put([
        _write(1, offset(PICKUP, 300), seen=now),
        _write(2, offset(PICKUP, 100), seen=now, state="busy"),
        _write(3, offset(PICKUP, 200), seen=now - 60),  # silent
        _write(4, offset(PICKUP, 150), seen=now, vehicle_type="xl"),
        _write(5, offset(PICKUP, 50), seen=now, state="offered"),
        _write(6, offset(PICKUP, 5000), seen=now),  # outside the radius
    ])
    round_trips["n"] = 0
    hits = store.geo_search_free(area="sf", vehicle_types=["economy", "xl"], lat=PICKUP[0], lng=PICKUP[1],
                                 radius_m=1000, count=10, seen_since=now - 30)
    assert round_trips["n"] == 1
    assert [h.driver_id for h in hits] == [4, 1]
    assert hits[0].distance_m == pytest.approx(150, abs=2)
    assert (hits[1].lat, hits[1].lng) == pytest.approx(offset(PICKUP, 300), abs=1e-5)


def test_free_drivers_search_takes_the_count_nearest_before_filtering(clean_redis):
    now = time.time()
    store.drivers_put([_write(1, offset(PICKUP, 10), state="busy", seen=now), _write(2, offset(PICKUP, 20), seen=now)])
    assert store.geo_search_free(area="sf", vehicle_types=["economy"], lat=PICKUP[0], lng=PICKUP[1], radius_m=1000,
                                 count=1, seen_since=now - 30) == []
    hits = store.geo_search_free(area="sf", vehicle_types=["economy"], lat=PICKUP[0], lng=PICKUP[1], radius_m=1000,
                                 count=2, seen_since=now - 30)
    assert [h.driver_id for h in hits] == [2]


@pytest.mark.django_db
def test_a_50_point_batch_is_one_round_trip(make_driver, round_trips):
    driver = make_driver(PICKUP)
    # A first move: the process's copy of the service areas is checked (and loaded) and the script
    # is known to Redis from then on.
    drivers.driver_location(user=driver, data=as_dict(offset(PICKUP, -500)))
    points = [{"lat": p[0], "lng": p[1], "ts": time.time() + i * 0.01}
              for i, p in enumerate(offset(PICKUP, 20 * i) for i in range(50))]
    round_trips["n"] = 0
    assert drivers.driver_location(user=driver, data={"points": points}) == 50
    # The driver's hash read, the GEO set, last-seen and the history written: one script call.
    assert round_trips["n"] == 1
    assert store.driver_get(driver.id)["lat"] == str(points[-1]["lat"])


@pytest.mark.parametrize(("count", "found"), [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (10, [1, 2, 3])])
def test_the_search_circle_grows_until_it_holds_count_drivers_or_reaches_the_radius(count, found):
    now = time.time()
    store.drivers_put([_write(1, offset(PICKUP, 100), seen=now), _write(2, offset(PICKUP, 700), seen=now),
                       _write(3, offset(PICKUP, 3900), seen=now), _write(4, offset(PICKUP, 4100), seen=now)])
    hits = store.geo_search_free(area="sf", vehicle_types=["economy"], lat=PICKUP[0], lng=PICKUP[1], radius_m=4000,
                                 count=count, seen_since=now - 30)
    assert [h.driver_id for h in hits] == found


def test_positions_of_many_drivers_come_in_chunks_in_order_with_missing_ones_as_none(clean_redis, monkeypatch,
                                                                                     round_trips):
    monkeypatch.setattr(store.positions, "POSITIONS_CHUNK", 2)
    store.drivers_put([_write(1, PICKUP), _write(2, offset(PICKUP, 100), state="busy"), _write(3, offset(PICKUP, 200))])
    store.drivers_positions([1])  # the script is loaded into Redis once, before counting
    round_trips["n"] = 0
    positions = store.drivers_positions([3, 99, 2, 1])
    assert positions == [("free", *offset(PICKUP, 200)), (None, None, None), ("busy", *offset(PICKUP, 100)),
                         ("free", *PICKUP)]
    assert round_trips["n"] == 2  # two chunks


def test_a_search_sized_by_the_areas_surface_finds_what_one_search_of_the_whole_radius_finds(clean_redis):
    import random

    rng = random.Random(4)
    now = time.time()
    writes = []
    for driver_id in range(1, 3001):  # crowded around the pickup, thinning out to 4.5 km
        # Each 1.5 m further than the last: GEO positions are rounded to half a metre, and a tie would
        # make "the nearest" of two searches legitimately differ.
        distance, bearing = 20 + 1.5 * driver_id, rng.uniform(0, 6.283)
        state = rng.choice(["free", "free", "free", "busy", "offered"])
        seen = now - (60 if rng.random() < 0.1 else 0)
        writes.append(_write(driver_id, offset(PICKUP, distance * math.cos(bearing), distance * math.sin(bearing)),
                             state=state, seen=seen))
    store.drivers_put(writes)
    states = {w.driver_id: (w.fields["state"], w.seen) for w in writes}
    surface = 15_000 * 15_000  # the default area's order of size
    for count, wanted, radius in [(60, 10, 2000), (50, 50, 1000), (60, 10, 300), (15, 10, 5000), (60, 1, 5000)]:
        every = store.geo_search(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=radius,
                                 count=count)
        expected = [h.driver_id for h in every
                    if states[h.driver_id][0] == "free" and states[h.driver_id][1] >= now - 30][:wanted]
        for area_m2 in (surface, 0.0, 1e12, 1e4):  # the first circle about right, fixed, too large, far too small
            hits = store.geo_search_free(area="sf", vehicle_types=["economy"], lat=PICKUP[0], lng=PICKUP[1],
                                         radius_m=radius, count=count, seen_since=now - 30, wanted=wanted,
                                         area_m2=area_m2)
            assert [h.driver_id for h in hits] == expected, (count, wanted, radius, area_m2)


def test_positions_in_a_state_come_in_chunks_from_one_moment_and_leave_no_snapshot(clean_redis, monkeypatch):
    monkeypatch.setattr(store.positions, "POSITIONS_CHUNK", 1)  # the next chunk is read ahead: one driver each
    now = time.time()
    store.drivers_put([_write(1, PICKUP, seen=now), _write(2, offset(PICKUP, 100), state="busy", seen=now),
                       _write(3, offset(PICKUP, 200), seen=now), _write(4, offset(PICKUP, 300), seen=now - 60),
                       _write(5, offset(PICKUP, 400), seen=now)])
    chunks = store.positions_in_state_since(now - 30, "free")
    first = next(chunks)
    # A driver seen after the moment the reading began is not among them; one gone since reads as nothing.
    store.drivers_put([_write(6, offset(PICKUP, 500), seen=now)])
    store.driver_remove(5)
    rest = [position for chunk in chunks for position in chunk]

    assert sorted([*first, *rest]) == sorted([PICKUP, offset(PICKUP, 200)])
    assert clean_redis.keys(store.seen_snapshot_key("*")) == []
