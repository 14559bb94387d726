"""Fares on the receipt, cancellation fees and ratings once per side."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from rides.models import Rating, Ride, RideStatus
from rides.services.pricing import fare_for
from tests.rides.conftest import PICKUP, offset

pytestmark = pytest.mark.django_db
BASE = "/api/v1/rides"
D = Decimal


@pytest.mark.parametrize(("vehicle", "metres", "seconds", "surge", "expected"), [
    # base + per km + per min, then the surge amount on top
    ("economy", 5000, 600, "1.00", ("2.50", "5.50", "3.00", "0.00", "11.00")),
    ("economy", 5000, 600, "1.50", ("2.50", "5.50", "3.00", "5.50", "16.50")),
    ("xl", 10_000, 1200, "2.00", ("4.50", "20.00", "10.00", "34.50", "69.00")),
    # under the minimum (6.00) the difference goes to the base
    ("economy", 500, 60, "1.00", ("5.15", "0.55", "0.30", "0.00", "6.00")),
])
def test_the_fare_is_itemised(vehicle, metres, seconds, surge, expected):
    fare = fare_for(vehicle_type=vehicle, distance_m=metres, duration_s=seconds, surge_multiplier=D(surge))
    assert (fare.base, fare.distance, fare.time, fare.surge, fare.total) == tuple(D(x) for x in expected)


def _to_in_progress(ride_in):
    ride, driver = ride_in(RideStatus.IN_PROGRESS)
    return ride, driver


def test_completing_keeps_the_fare_on_the_receipt(ride_in, client_for, rider):
    ride, driver = _to_in_progress(ride_in)
    Ride.objects.filter(pk=ride.pk).update(started_at=timezone.now() - timedelta(minutes=10), distance_m=5000,
                                           surge_multiplier=D("1.20"))
    response = client_for(driver).post(f"{BASE}/{ride.id}/complete")
    assert response.status_code == 200
    # 2.50 + 5 km × 1.10 + 10 min × 0.30 = 11.00, × 1.2 → surge 2.20
    assert response.json()["receipt"] == {
        "currency": "USD", "base": "2.50", "distance": "5.50", "time": "3.00", "surge": "2.20",
        "surge_multiplier": 1.2, "cancellation_fee": "0.00", "total": "13.20",
    }
    assert client_for(rider).get(f"{BASE}/{ride.id}").json()["receipt"]["total"] == "13.20"


@pytest.mark.parametrize(("state", "accepted_ago_s", "fee"), [
    (RideStatus.REQUESTED, None, "0.00"),
    (RideStatus.OFFERED, None, "0.00"),
    (RideStatus.ACCEPTED, 60, "0.00"),
    (RideStatus.ACCEPTED, 119, "0.00"),
    (RideStatus.ACCEPTED, 121, "5.00"),
    (RideStatus.ARRIVED, 30, "5.00"),  # after arrival, however soon
])
def test_a_rider_pays_a_fee_only_when_cancelling_late(ride_in, rider, client_for, state, accepted_ago_s, fee):
    ride, _ = ride_in(state)
    if accepted_ago_s is not None:
        Ride.objects.filter(pk=ride.pk).update(accepted_at=timezone.now() - timedelta(seconds=accepted_ago_s))
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": "changed plans"}, format="json")
    assert response.status_code == 200
    receipt = response.json()["receipt"]
    assert (receipt["cancellation_fee"], receipt["total"], receipt["base"]) == (fee, fee, "0.00")
    history = client_for(rider).get(BASE).json()["results"][0]
    assert history["receipt"]["cancellation_fee"] == fee


def test_a_driver_cancelling_late_charges_the_rider_nothing(ride_in, client_for):
    ride, driver = ride_in(RideStatus.ARRIVED)
    response = client_for(driver).post(f"{BASE}/{ride.id}/cancel", {}, format="json")
    assert response.json()["receipt"]["cancellation_fee"] == "0.00"


def test_a_cancellation_reason_is_bounded(ride_in, rider, client_for):
    ride, _ = ride_in(RideStatus.REQUESTED)
    for reason in ("x" * 501, 42, ["a"]):
        response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": reason}, format="json")
        assert response.status_code == 400 and list(response.json()["fields"]) == ["reason"]


# --- ratings ------------------------------------------------------------------------------
def test_each_side_rates_once_after_completion(ride_in, rider, client_for):
    ride, driver = ride_in(RideStatus.COMPLETED)
    response = client_for(rider).post(f"{BASE}/{ride.id}/rate", {"stars": 4, "comment": "smooth"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"ride": str(ride.id), "side": "rider", "stars": 4, "comment": "smooth"}
    again = client_for(rider).post(f"{BASE}/{ride.id}/rate", {"stars": 1}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    assert client_for(driver).post(f"{BASE}/{ride.id}/rate", {"stars": 5}, format="json").status_code == 201
    assert client_for(driver).post(f"{BASE}/{ride.id}/rate", {"stars": 5}, format="json").status_code == 409
    assert sorted(Rating.objects.filter(ride=ride).values_list("side", "ratee_id", "stars")) == [
        ("driver", rider.id, 5), ("rider", driver.id, 4),
    ]
    driver.driver_profile.refresh_from_db()
    assert (driver.driver_profile.rating, driver.driver_profile.rating_count) == (D("4.00"), 1)


def test_a_drivers_rating_is_the_average_of_riders_stars(make_user, make_driver, request_ride, run_commits,
                                                         client_for):
    from rides.services import dispatch, trips

    driver = make_driver(offset(PICKUP, 100))
    for stars in (5, 4, 4):
        rider = make_user()
        ride = request_ride(rider)
        for step in (dispatch.ride_accept, trips.ride_arrive, trips.ride_start, trips.ride_complete):
            run_commits(step, driver=driver, ride_id=ride.id)
        assert client_for(rider).post(f"{BASE}/{ride.id}/rate", {"stars": stars}, format="json").status_code == 201
    driver.driver_profile.refresh_from_db()
    assert (driver.driver_profile.rating, driver.driver_profile.rating_count) == (D("4.33"), 3)


@pytest.mark.parametrize("state", [RideStatus.OFFERED, RideStatus.IN_PROGRESS, RideStatus.CANCELLED])
def test_a_ride_that_is_not_completed_cannot_be_rated(ride_in, rider, client_for, state):
    ride, _ = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/rate", {"stars": 5}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "not_rateable" and response.json()["status"] == state


@pytest.mark.parametrize("stars", [0, 6, "5", 4.5, True, None, -1, 10**30])
def test_stars_are_a_whole_number_from_1_to_5(ride_in, rider, client_for, stars):
    ride, _ = ride_in(RideStatus.COMPLETED)
    response = client_for(rider).post(f"{BASE}/{ride.id}/rate", {"stars": stars}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["stars"]
    assert not Rating.objects.exists()


def test_a_stranger_cannot_rate(ride_in, client_for, make_user):
    ride, _ = ride_in(RideStatus.COMPLETED)
    response = client_for(make_user("mallory")).post(f"{BASE}/{ride.id}/rate", {"stars": 1}, format="json")
    assert response.status_code == 404
