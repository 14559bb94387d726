"""Matching: expanding radius, scoring, stale drivers, offers that time out or are declined."""

import time

import pytest

from rides import store
from rides.models import Ride, RideEvent, RideStatus
from rides.services import dispatch, drivers
from rides.tasks import expire_offers, offer_timeout, sweep_stale_drivers
from tests.rides.conftest import PICKUP, expire_offer, offset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _steady_speed(settings):
    # 36 km/h = 10 m/s at every hour: ETAs are road metres / 10.
    settings.RIDES_SPEED_KMH_BY_HOUR = [36.0] * 24
    settings.RIDES_ROAD_FACTOR = 1.0


def _rate(driver, rating):
    driver.driver_profile.rating = rating
    driver.driver_profile.save()


def test_the_nearest_ring_is_searched_first_even_if_a_farther_driver_scores_better(rider, make_driver, request_ride):
    near = make_driver(offset(PICKUP, 800))
    far = make_driver(offset(PICKUP, 1500))
    _rate(near, 3.0)  # cost 1.33 + 0.4 + 4 = 5.7 against the far one's 2.5 + 0.75 + 0 = 3.3
    ride = request_ride(rider)
    assert ride.driver_id == near.id
    assert far.id != ride.driver_id


@pytest.mark.parametrize(("north_m", "offered"), [(1500, True), (4500, True), (5600, False)])
def test_the_radius_widens_from_1_to_2_to_5_km_and_no_further(rider, make_driver, request_ride, north_m, offered):
    driver = make_driver(offset(PICKUP, north_m))
    ride = request_ride(rider)
    if offered:
        assert (ride.status, ride.driver_id) == (RideStatus.OFFERED, driver.id)
    else:
        assert (ride.status, ride.driver_id) == (RideStatus.NO_DRIVERS, None)
        assert RideEvent.objects.filter(ride=ride).last().action == "no_drivers"


def test_within_a_ring_the_lowest_cost_wins_eta_distance_and_rating_together(rider, make_driver, request_ride):
    close_but_poorly_rated = make_driver(offset(PICKUP, 300))
    _rate(close_but_poorly_rated, 4.0)  # 0.5 + 0.15 + 2 = 2.65
    farther_five_stars = make_driver(offset(PICKUP, -600))  # 1.0 + 0.3 + 0 = 1.3
    ride = request_ride(rider)
    assert ride.driver_id == farther_five_stars.id


def test_the_weights_come_from_settings(rider, make_driver, request_ride, settings):
    settings.DISPATCH_WEIGHT_RATING = 0.0
    close_but_poorly_rated = make_driver(offset(PICKUP, 300))
    _rate(close_but_poorly_rated, 4.0)
    make_driver(offset(PICKUP, -600))
    ride = request_ride(rider)
    assert ride.driver_id == close_but_poorly_rated.id


def test_candidates_are_ranked_by_cost(make_driver, settings):
    from rides.selectors import dispatch_candidates

    a = make_driver(offset(PICKUP, 100))
    b = make_driver(offset(PICKUP, 400))
    c = make_driver(offset(PICKUP, 700))
    _rate(a, 3.5)
    ranked = dispatch_candidates(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=1000)
    assert [x.driver_id for x in ranked] == [b.id, c.id, a.id]
    assert [round(x.distance_m, -1) for x in ranked] == [400, 700, 100]
    assert ranked[0].eta_s == 40


def test_only_the_requested_vehicle_type_is_offered(rider, make_driver, request_ride):
    make_driver(offset(PICKUP, 100), vehicle_type="xl")
    comfort = make_driver(offset(PICKUP, 900), vehicle_type="comfort")
    ride = request_ride(rider, vehicle_type="comfort")
    assert ride.driver_id == comfort.id


def test_a_driver_silent_for_more_than_30_s_is_not_offered_and_is_swept(rider, make_driver, request_ride):
    driver = make_driver(offset(PICKUP, 200))
    store.get_redis().zadd(store.SEEN_KEY, {driver.id: time.time() - 31})
    ride = request_ride(rider)
    assert ride.status == RideStatus.NO_DRIVERS

    fresh = make_driver(offset(PICKUP, 500))
    assert sweep_stale_drivers.delay().get() == 1
    assert store.driver_get(driver.id) is None
    hits = store.geo_search(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=5000, count=10)
    assert [h.driver_id for h in hits] == [fresh.id]


def test_a_driver_seen_29_s_ago_is_still_offered(rider, make_driver, request_ride):
    driver = make_driver(offset(PICKUP, 200))
    store.get_redis().zadd(store.SEEN_KEY, {driver.id: time.time() - 29})
    assert request_ride(rider).driver_id == driver.id


def test_an_offer_holds_the_driver_with_a_15_s_lock(rider, make_driver, request_ride):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    assert store.offer_lock_holder(driver.id) == ride.id
    assert 14 <= store.get_redis().ttl(store.offer_lock_key(driver.id)) <= 15
    assert store.driver_get(driver.id)["state"] == "offered"
    assert 14 <= (ride.offer_expires_at - ride.requested_at).total_seconds() <= 16


def test_a_timed_out_offer_goes_to_the_next_driver_then_no_drivers(rider, make_driver, request_ride, run_commits):
    first = make_driver(offset(PICKUP, 200))
    second = make_driver(offset(PICKUP, 900))
    ride = request_ride(rider)
    assert ride.driver_id == first.id

    expire_offer(ride)
    assert run_commits(offer_timeout.delay, ride_id=ride.id, offer_round=1).get() is True
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id, ride.offer_round) == (RideStatus.OFFERED, second.id, 2)
    assert store.driver_get(first.id)["state"] == "free" and store.offer_lock_holder(first.id) is None

    expire_offer(ride)
    assert run_commits(expire_offers.delay).get() == 1  # the beat sweep, as after a lost task
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id) == (RideStatus.NO_DRIVERS, None)
    assert list(RideEvent.objects.filter(ride=ride).values_list("action", "driver_id")) == [
        ("offer", None), ("offer_timeout", first.id), ("offer", None), ("offer_timeout", second.id),
        ("no_drivers", None),
    ]
    assert store.driver_get(second.id)["state"] == "free"


def test_the_timeout_task_leaves_a_running_or_newer_offer_alone(rider, make_driver, request_ride, run_commits):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    assert run_commits(offer_timeout.delay, ride_id=ride.id, offer_round=1).get() is False  # delivered early
    assert run_commits(offer_timeout.delay, ride_id=ride.id, offer_round=0).get() is False  # an older round
    expire_offer(ride)
    assert run_commits(offer_timeout.delay, ride_id=ride.id, offer_round=1).get() is True
    assert run_commits(offer_timeout.delay, ride_id=ride.id, offer_round=1).get() is False  # delivered twice
    ride.refresh_from_db()
    assert ride.status == RideStatus.NO_DRIVERS
    assert RideEvent.objects.filter(ride=ride, action="offer_timeout", driver=driver).count() == 1


def test_a_decline_offers_the_next_driver_and_never_the_same_one_again(rider, make_driver, request_ride, run_commits):
    first = make_driver(offset(PICKUP, 200))
    second = make_driver(offset(PICKUP, 700))
    ride = request_ride(rider)
    run_commits(dispatch.ride_decline, driver=first, ride_id=ride.id)
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id) == (RideStatus.OFFERED, second.id)
    run_commits(dispatch.ride_decline, driver=second, ride_id=ride.id)
    ride.refresh_from_db()
    assert ride.status == RideStatus.NO_DRIVERS
    assert store.driver_get(first.id)["state"] == "free"


def test_an_expired_offer_cannot_be_accepted(rider, make_driver, request_ride, client_for):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    expire_offer(ride)
    response = client_for(driver).post(f"/api/v1/rides/{ride.id}/accept")
    assert response.status_code == 409 and response.json()["code"] == "offer_expired"


def test_a_driver_with_an_open_offer_is_never_offered_a_second_ride(make_user, make_driver, request_ride):
    driver = make_driver(offset(PICKUP, 200))
    first = request_ride(make_user())
    assert first.driver_id == driver.id
    # Even with the Redis state lost, the offer lock keeps the driver out …
    store.driver_set_state(driver.id, "free")
    assert request_ride(make_user()).status == RideStatus.NO_DRIVERS
    # … and with the lock gone too, the database check under the driver's row lock does.
    store.get_redis().delete(store.offer_lock_key(driver.id))
    assert request_ride(make_user()).status == RideStatus.NO_DRIVERS
    assert Ride.objects.filter(driver=driver).count() == 1


def test_a_driver_with_an_active_ride_is_never_offered_another(make_user, make_driver, request_ride, run_commits):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(make_user())
    run_commits(dispatch.ride_accept, driver=driver, ride_id=ride.id)
    assert store.driver_get(driver.id)["state"] == "busy"
    store.driver_set_state(driver.id, "free")  # a stale Redis state must not be trusted
    assert request_ride(make_user()).status == RideStatus.NO_DRIVERS


def test_driver_states_follow_the_ride(rider, make_driver, request_ride, run_commits):
    from rides.services import trips

    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    run_commits(dispatch.ride_accept, driver=driver, ride_id=ride.id)
    assert store.driver_get(driver.id)["state"] == "busy" and store.offer_lock_holder(driver.id) is None
    for step in (trips.ride_arrive, trips.ride_start):
        run_commits(step, driver=driver, ride_id=ride.id)
    assert store.driver_get(driver.id)["state"] == "busy"
    run_commits(trips.ride_complete, driver=driver, ride_id=ride.id)
    assert store.driver_get(driver.id)["state"] == "free"


def test_going_offline_declines_an_open_offer(rider, make_driver, request_ride, run_commits):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    run_commits(drivers.driver_offline, user=driver)
    ride.refresh_from_db()
    assert ride.status == RideStatus.NO_DRIVERS
    assert RideEvent.objects.filter(ride=ride, action="decline", reason="driver went offline").exists()
    assert store.driver_get(driver.id) is None


def test_a_ride_whose_dispatch_task_was_lost_is_dispatched_by_the_sweep(rider, make_driver, run_commits):
    from datetime import timedelta

    from django.utils import timezone

    from rides.services import trips
    from rides.tasks import dispatch_stalled
    from tests.rides.conftest import DROPOFF, as_dict

    driver = make_driver(offset(PICKUP, 200))
    ride = trips.ride_request(rider=rider, pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF), vehicle_type="economy")
    assert run_commits(dispatch_stalled.delay).get() == 0  # just requested: its own task is on the way
    Ride.objects.filter(pk=ride.pk).update(requested_at=timezone.now() - timedelta(seconds=6))
    assert run_commits(dispatch_stalled.delay).get() == 1
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id) == (RideStatus.OFFERED, driver.id)


def test_an_accepting_driver_is_busy_even_if_another_ride_grabbed_the_expired_lock(rider, make_driver,
                                                                                    request_ride, run_commits):
    driver = make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    store.get_redis().set(store.offer_lock_key(driver.id), 424242)  # another ride's lock, after ours expired
    run_commits(dispatch.ride_accept, driver=driver, ride_id=ride.id)
    assert store.driver_get(driver.id)["state"] == "busy"
