"""The location write: one Redis step applying the service's rule, the areas it relies on, the history it keeps."""

import json
import math
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import FieldError
from rides import geo, selectors, store
from rides.models import DriverLocation, ServiceArea
from rides.services import drivers, history
from tests.rides.conftest import PICKUP, as_dict, offset

THRESHOLD = 50.0


def _online(driver_id: int, point=PICKUP, *, ts: float = 0.0, state: str = "free") -> None:
    lat, lng = point
    store.drivers_put([store.DriverWrite(driver_id=driver_id, area="sf", vehicle_type="economy", lat=lat, lng=lng,
                                         seen=time.time(), reindex=True,
                                         fields={"state": state, "lat": lat, "lng": lng, "ilat": lat, "ilng": lng,
                                                 "ts": ts})])


def _write(driver_id: int, point, *, ts: float | None = None, area: str = "sf", version: str | None = None,
           history_body: str = '{"lat": 0, "lng": 0}') -> store.LocationWrite:
    now = time.time()
    return store.LocationWrite(driver_id=driver_id, now=now, lat=point[0], lng=point[1], heading=None, speed=None,
                               ts=now if ts is None else ts, move_threshold_m=THRESHOLD,
                               earth_radius_m=geo.EARTH_RADIUS_M,
                               areas_version=store.areas_version() if version is None else version, area=area,
                               history=history_body)


def _indexed_at(driver_id: int) -> tuple[float, float]:
    position = store.driver_get(driver_id)
    return float(position["ilat"]), float(position["ilng"])


# --- the rule in Redis agrees with the Python definitions -----------------------------------------------
def test_the_write_reindexes_exactly_when_great_circle_m_says_the_move_reaches_the_threshold(clean_redis):
    rng = random.Random(5)
    for driver_id in range(1, 201):
        start = (37.70 + rng.random() * 0.14, -122.52 + rng.random() * 0.17)
        _online(driver_id, start)
        # Moves within a centimetre of the threshold, in every direction.
        bearing, distance = rng.uniform(0, 2 * math.pi), THRESHOLD + rng.uniform(-0.01, 0.01)
        moved_to = offset(start, distance * math.cos(bearing), distance * math.sin(bearing))
        expected = geo.great_circle_m(*start, *moved_to) >= THRESHOLD

        assert store.driver_locate(_write(driver_id, moved_to)).outcome == store.Located.STORED
        assert (_indexed_at(driver_id) == moved_to) is expected, (start, moved_to)


def test_a_short_move_updates_the_position_without_touching_the_index(clean_redis):
    _online(1)
    near = offset(PICKUP, 20)
    store.driver_locate(_write(1, near))
    position = store.driver_get(1)
    assert (float(position["lat"]), float(position["lng"])) == near
    assert _indexed_at(1) == PICKUP
    (lng, lat), = clean_redis.geopos(store.geo_key("sf", "economy"), 1)
    assert (lat, lng) == pytest.approx(PICKUP, abs=1e-5)


def test_a_move_into_another_area_leaves_the_old_areas_set(clean_redis):
    _online(1)
    store.driver_locate(_write(1, offset(PICKUP, 900), area="oak"))
    assert clean_redis.zrange(store.geo_key("sf", "economy"), 0, -1) == []
    assert clean_redis.zrange(store.geo_key("oak", "economy"), 0, -1) == [b"1"]
    assert store.driver_get(1)["area"] == "oak"


def test_a_move_outside_every_area_leaves_search_but_stays_online(clean_redis):
    _online(1)
    store.driver_locate(_write(1, offset(PICKUP, 900), area=""))
    assert clean_redis.zcard(store.geo_key("sf", "economy")) == 0
    assert store.driver_get(1)["area"] == ""
    assert store.drivers_last_seen([1]) != [None]


def test_an_offline_driver_is_refused_and_nothing_is_written(clean_redis):
    assert store.driver_locate(_write(1, PICKUP)) == store.Located(store.Located.OFFLINE, None)
    assert clean_redis.exists(store.driver_key(1), store.SEEN_KEY, store.LOCATION_STREAM_KEY) == 0


def test_a_point_older_than_the_stored_one_only_refreshes_last_seen_and_is_still_history(clean_redis):
    _online(1, ts=1000.0)
    before = store.driver_get(1)
    located = store.driver_locate(_write(1, offset(PICKUP, 900), ts=999.0))
    assert located == store.Located(store.Located.LATE, "free")
    assert store.driver_get(1) == before
    assert store.history_length() == 1


def test_a_write_needing_the_areas_is_refused_unapplied_when_its_copy_is_out_of_date(clean_redis):
    _online(1)
    before = store.driver_get(1)
    located = store.driver_locate(_write(1, offset(PICKUP, 900), version="an-old-one"))
    assert located.outcome == store.Located.AREAS
    assert store.driver_get(1) == before
    assert store.history_length() == 0
    # A short move does not need the areas: it is applied whatever the copy's version.
    assert store.driver_locate(_write(1, offset(PICKUP, 10), version="an-old-one")).outcome == store.Located.STORED


# --- the process's copy of the service areas ----------------------------------------------------------
@pytest.mark.django_db
def test_the_copy_of_the_areas_answers_as_service_area_at_does():
    ServiceArea.objects.create(slug="civic", name="Civic Center",  # inside sf, made later: sf comes first
                               polygon=[[37.770, -122.430], [37.790, -122.430], [37.790, -122.405], [37.770, -122.405]])
    ServiceArea.objects.create(slug="oak", name="Oakland", polygon=[[37.78, -122.30], [37.84, -122.30], [37.78, -122.22]])
    ServiceArea.objects.create(slug="closed", name="Closed", active=False,
                               polygon=[[37.0, -122.0], [37.1, -122.0], [37.1, -121.9]])
    area_map = selectors.service_area_map(reload=True)
    rng = random.Random(3)
    points = [PICKUP, (37.79, -122.29), (37.835, -122.225), (37.05, -121.99), (37.3382, -121.8863)]
    points += [(36.9 + rng.random() * 1.0, -122.6 + rng.random() * 0.8) for _ in range(300)]
    for lat, lng in points:
        area = selectors.service_area_at(lat, lng)
        assert area_map.slug_at(lat, lng) == (area.slug if area else ""), (lat, lng)


@pytest.mark.django_db(transaction=True)
def test_a_new_area_is_used_by_the_next_move_into_it(make_driver):
    driver = make_driver(PICKUP)
    drivers.driver_location(user=driver, data=as_dict(offset(PICKUP, 500)))  # this process's copy is current
    oakland = (37.80, -122.27)
    ServiceArea.objects.create(slug="oak", name="Oakland",
                               polygon=[[37.78, -122.30], [37.84, -122.30], [37.84, -122.22], [37.78, -122.22]])

    drivers.driver_location(user=driver, data=as_dict(oakland))

    assert store.driver_get(driver.id)["area"] == "oak"
    hits = store.geo_search(area="oak", vehicle_type="economy", lat=oakland[0], lng=oakland[1], radius_m=50, count=5)
    assert [h.driver_id for h in hits] == [driver.id]


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_area_is_left_by_the_next_move_within_it(make_driver):
    driver = make_driver(PICKUP)
    drivers.driver_location(user=driver, data=as_dict(offset(PICKUP, 500)))
    area = ServiceArea.objects.get(slug="sf")
    area.active = False
    area.save()

    drivers.driver_location(user=driver, data=as_dict(offset(PICKUP, 1000)))

    assert store.driver_get(driver.id)["area"] == ""
    assert store.geo_search(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=5000,
                            count=5) == []


# --- parsing points: the shortcut for plain numbers agrees with the field-by-field rule -----------------
_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-400, max_value=400),
    st.sampled_from(["37.7", "north", "", "nan", "1e400"]), st.lists(st.integers(), max_size=2),
)
_points = st.one_of(
    st.dictionaries(st.sampled_from(["lat", "lng", "heading", "speed", "ts", "other"]), _values),
    st.fixed_dictionaries({"lat": st.floats(min_value=-90, max_value=90), "lng": st.floats(min_value=-180, max_value=180)},
                          optional={"heading": _values, "speed": _values, "ts": _values}),
    _values,
)


@given(points=st.lists(_points, min_size=1, max_size=4))
def test_parsing_points_gives_what_the_field_by_field_rule_gives(points):
    now = time.time()
    try:
        expected = [drivers._checked_point(point, f"points[{i}].", now) for i, point in enumerate(points)]
    except FieldError as exc:
        with pytest.raises(FieldError) as caught:
            drivers.parse_points({"points": points}, now)
        assert (caught.value.message, caught.value.code, caught.value.extra) == (exc.message, exc.code, exc.extra)
        return
    assert drivers.parse_points({"points": points}, now) == expected


# --- history ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_every_point_of_a_write_becomes_one_history_row_once(make_driver):
    driver = make_driver(PICKUP)
    now = time.time()
    points = [{"lat": p[0], "lng": p[1], "heading": 90, "ts": now - 10 + i}
              for i, p in enumerate(offset(PICKUP, 10 * i) for i in range(5))]
    drivers.driver_location(user=driver, data={"points": points})
    drivers.driver_location(user=driver, data={"lat": PICKUP[0], "lng": PICKUP[1]})  # no ts: the time it came in

    assert history.location_history_drain(consumer="test") == 6
    rows = list(DriverLocation.objects.filter(driver=driver).order_by("recorded_at", "seq"))
    assert [(row.lat, row.lng, row.heading, row.recorded_at.timestamp()) for row in rows[:5]] == [
        (p["lat"], p["lng"], 90.0, pytest.approx(p["ts"], abs=1e-6)) for p in points]
    assert rows[5].recorded_at.timestamp() == pytest.approx(time.time(), abs=5)
    assert store.history_length() == 0  # stored entries leave the stream
    assert history.location_history_drain(consumer="test") == 0


@pytest.mark.django_db
def test_history_a_dead_consumer_read_is_claimed_and_stored_once(make_driver):
    driver = make_driver(PICKUP)
    drivers.driver_location(user=driver, data={"points": [as_dict(PICKUP), as_dict(offset(PICKUP, 100))]})
    entries = store.history_read("dead", 10)
    history.history_store(entries)  # stored, then the process died before acknowledging

    history.location_history_drain(consumer="alive", claim_idle_ms=0)

    assert DriverLocation.objects.filter(driver=driver).count() == 2
    assert store.history_length() == 0


@pytest.mark.django_db
def test_a_hot_path_body_is_kept_as_sent_and_read_back_with_the_same_rule(make_driver):
    driver = make_driver(PICKUP)
    body = json.dumps({"points": [{"lat": "37.78", "lng": -122.42, "note": "kept, ignored"}]})
    drivers.driver_location(user=driver, data=json.loads(body), history=body)
    (_, fields), = store.history_read("test", 10)
    assert fields["p"] == body
    history.history_store([("1-1", fields)])
    row = DriverLocation.objects.get(driver=driver)
    assert (row.lat, row.lng, row.heading) == (37.78, -122.42, None)


# --- racing writers ------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_racing_writes_of_one_driver_leave_the_newest_point_whatever_order_they_land_in(make_driver):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    driver = make_driver(PICKUP)
    now = time.time()
    writes = [(now + i, offset(PICKUP, 60 * i)) for i in range(1, 41)]  # all newer than going online
    random.Random(9).shuffle(writes)

    def post(write):
        ts, point = write
        try:
            return drivers.driver_location(user=driver, data={**as_dict(point), "ts": ts})
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(post, writes)) == [1] * len(writes)

    newest_ts, newest = max(writes)
    position = store.driver_get(driver.id)
    assert (float(position["ts"]), float(position["lat"]), float(position["lng"])) == (newest_ts, *newest)
    hits = store.geo_search(area="sf", vehicle_type="economy", lat=newest[0], lng=newest[1], radius_m=30, count=5)
    assert [h.driver_id for h in hits] == [driver.id]
    assert store.history_length() == len(writes)  # every point is history, late ones too
