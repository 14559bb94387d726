"""Concurrent callers: each race ends with exactly one winner, decided under the ride's row lock."""

import pytest

from rides import store
from rides.models import Ride, RideEvent, RideStatus
from tests.fixtures.concurrency import run_concurrently
from tests.rides.conftest import DROPOFF, PICKUP, as_dict, offset

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/api/v1/rides"


def _request(rider):
    from rides.services import trips

    return Ride.objects.get(pk=trips.ride_request(rider=rider, pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF),
                                                  vehicle_type="economy").pk)


def test_two_drivers_accepting_one_ride_end_with_one_success(rider, make_driver, client_for):
    offered = make_driver(offset(PICKUP, 200))
    other = make_driver(offset(PICKUP, 400))
    ride = _request(rider)
    assert ride.driver_id == offered.id
    # The offered driver taps twice while another driver tries the same ride.
    clients = [client_for(offered), client_for(other), client_for(offered), client_for(other)]

    responses = run_concurrently(lambda i: clients[i].post(f"{BASE}/{ride.id}/accept"), 4)

    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 404, 404, 409], [r.json() for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["status"] == "accepted"
    ride.refresh_from_db()
    assert (ride.status, ride.driver_id) == (RideStatus.ACCEPTED, offered.id)
    assert RideEvent.objects.filter(ride=ride, action="accept").count() == 1


def test_one_driver_accepting_two_rides_gets_only_one(make_user, make_driver, client_for):
    driver = make_driver(offset(PICKUP, 200))
    first = _request(make_user())
    assert first.driver_id == driver.id
    # A second open offer to the same driver (as a lost Redis lock could once leave behind).
    second = _request(make_user())
    assert second.status == RideStatus.NO_DRIVERS
    Ride.objects.filter(pk=second.pk).update(status=RideStatus.OFFERED, driver=driver, offer_round=1,
                                             offer_expires_at=first.offer_expires_at)
    api = client_for(driver)

    responses = run_concurrently(lambda i: api.post(f"{BASE}/{(first, second)[i].id}/accept"), 2)

    assert sorted(r.status_code for r in responses) == [200, 409]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "driver_busy"
    assert Ride.objects.filter(driver=driver, status=RideStatus.ACCEPTED).count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_a_cancel_racing_an_accept_leaves_the_offer_to_exactly_one_of_them(rider, make_driver, client_for, attempt):
    driver = make_driver(offset(PICKUP, 200))
    ride = _request(rider)
    assert ride.driver_id == driver.id
    calls = [
        lambda: client_for(driver).post(f"{BASE}/{ride.id}/accept"),
        lambda: client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": "found another"}, format="json"),
    ]

    accept, cancel = run_concurrently(lambda i: calls[i](), 2)

    ride.refresh_from_db()
    assert ride.status == RideStatus.CANCELLED and cancel.status_code == 200
    # Exactly one of the two moved the ride out of "offered"; the other saw what it left.
    left_offered = list(RideEvent.objects.filter(ride=ride, from_status="offered").values_list("action", flat=True))
    assert len(left_offered) == 1
    if left_offered == ["cancel"]:
        assert accept.status_code == 409 and accept.json()["status"] == "cancelled"
    else:
        assert accept.status_code == 200
        assert RideEvent.objects.filter(ride=ride, action="cancel", from_status="accepted").count() == 1
    assert store.driver_get(driver.id)["state"] == "free"
    assert store.offer_lock_holder(driver.id) is None


def test_a_rider_requesting_twice_at_once_gets_one_ride(rider, client_for):
    api = client_for(rider)
    body = {"pickup": as_dict(PICKUP), "dropoff": as_dict(DROPOFF), "vehicle_type": "economy"}

    responses = run_concurrently(lambda i: api.post(BASE, body, format="json"), 2)

    assert sorted(r.status_code for r in responses) == [201, 409]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "active_ride"


def test_two_rides_dispatched_at_once_never_share_the_one_free_driver(make_user, make_driver):
    from rides.services import dispatch, trips

    rides = [trips.ride_request(rider=make_user(), pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF),
                                vehicle_type="economy") for _ in range(3)]
    # Their own dispatch found nobody; put them back in the queue, then one driver comes online.
    Ride.objects.filter(pk__in=[r.id for r in rides]).update(status=RideStatus.REQUESTED)
    driver = make_driver(offset(PICKUP, 200))

    run_concurrently(lambda i: dispatch.ride_dispatch(ride_id=rides[i].id), 3)

    statuses = sorted(Ride.objects.filter(pk__in=[r.id for r in rides]).values_list("status", flat=True))
    assert statuses == ["no_drivers", "no_drivers", "offered"]
    assert Ride.objects.get(status=RideStatus.OFFERED).driver_id == driver.id


def test_two_ratings_of_one_side_at_once_store_one(rider, make_driver, client_for):
    from rides.services import dispatch, trips

    driver = make_driver(offset(PICKUP, 200))
    ride = _request(rider)
    dispatch.ride_accept(driver=driver, ride_id=ride.id)
    for step in (trips.ride_arrive, trips.ride_start, trips.ride_complete):
        step(driver=driver, ride_id=ride.id)
    api = client_for(rider)

    responses = run_concurrently(lambda i: api.post(f"{BASE}/{ride.id}/rate", {"stars": 4}, format="json"), 2)

    assert sorted(r.status_code for r in responses) == [201, 409]
    driver.driver_profile.refresh_from_db()
    assert (driver.driver_profile.rating_count, float(driver.driver_profile.rating)) == (1, 4.0)


@pytest.mark.parametrize("attempt", range(3))
def test_a_cancel_carrying_the_status_the_rider_saw_and_a_racing_accept_end_with_exactly_one_success(
        rider, make_driver, client_for, attempt):
    driver = make_driver(offset(PICKUP, 200))
    ride = _request(rider)
    assert ride.status == RideStatus.OFFERED
    calls = [
        lambda: client_for(driver).post(f"{BASE}/{ride.id}/accept"),
        lambda: client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": "found another",
                                                                   "seen_status": "offered"}, format="json"),
    ]

    accept, cancel = run_concurrently(lambda i: calls[i](), 2)

    assert sorted([accept.status_code, cancel.status_code]) == [200, 409], (accept.json(), cancel.json())
    ride.refresh_from_db()
    if accept.status_code == 200:
        # The rider tapped cancel on an offer that was just taken: nothing is cancelled, they see who comes.
        assert cancel.json()["code"] == "status_changed"
        assert (cancel.json()["status"], cancel.json()["seen_status"]) == ("accepted", "offered")
        assert ride.status == RideStatus.ACCEPTED and ride.cancellation_fee == 0
        assert store.driver_get(driver.id)["state"] == "busy"
    else:
        assert (accept.json()["code"], accept.json()["status"]) == ("invalid_transition", "cancelled")
        assert ride.status == RideStatus.CANCELLED
        assert store.driver_get(driver.id)["state"] == "free"
    assert RideEvent.objects.filter(ride=ride).exclude(action="offer").count() == 1


@pytest.mark.django_db(transaction=False)
def test_the_drivers_state_follows_the_later_transition_whatever_order_their_commit_hooks_run_in(
        rider, make_driver, django_capture_on_commit_callbacks):
    from rides.services import dispatch, trips

    driver = make_driver(offset(PICKUP, 200))
    with django_capture_on_commit_callbacks(execute=True):
        ride = trips.ride_request(rider=rider, pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF),
                                  vehicle_type="economy")
    with django_capture_on_commit_callbacks() as accepted:
        dispatch.ride_accept(driver=driver, ride_id=ride.id)
    with django_capture_on_commit_callbacks() as cancelled:
        trips.ride_cancel(user=rider, ride_id=ride.id, reason="found another")

    # The accept's hooks are late (a slow publish before them): the cancel's run first.
    for hook in [*cancelled, *accepted]:
        hook()

    assert store.driver_get(driver.id)["state"] == "free"
    assert store.offer_lock_holder(driver.id) is None


def test_an_older_state_never_overwrites_a_newer_one(make_driver):
    driver = make_driver(offset(PICKUP, 200))
    assert store.driver_set_state(driver.id, "busy", version=7)
    assert not store.driver_set_state(driver.id, "offered", version=6)
    assert not store.offer_finish(driver.id, 1, "free", 5)
    assert store.driver_get(driver.id)["state"] == "busy"
    assert store.offer_finish(driver.id, 1, "free", 8)
    assert store.driver_get(driver.id)["state"] == "free"
