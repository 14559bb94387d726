"""Rides test helpers: points in the default service area, drivers online, rides in each state."""

import importlib
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from rides.models import Ride, RideStatus
from rides.services import drivers, trips

# Civic Center, San Francisco: inside the default service area.
PICKUP = (37.7793, -122.4193)
DROPOFF = (37.8024, -122.4058)  # North Beach, ≈ 2.8 km away
OUTSIDE = (37.3382, -121.8863)  # San José


def offset(point: tuple[float, float], north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    lat, lng = point
    return (lat + north_m / 111_195.0, lng + east_m / (111_195.0 * math.cos(math.radians(lat))))


def as_dict(point: tuple[float, float]) -> dict:
    return {"lat": point[0], "lng": point[1]}


@pytest.fixture(autouse=True)
def default_service_area(request):
    """The area the data migration seeds; transactional tests flush it, so it is laid again."""
    if not request.node.get_closest_marker("django_db"):
        return None
    from rides.models import ServiceArea

    seeded = importlib.import_module("rides.migrations.0002_default_service_area")
    request.getfixturevalue("db" if not _transactional(request) else "transactional_db")
    area, _ = ServiceArea.objects.get_or_create(
        slug="sf", defaults={"name": "San Francisco", "polygon": seeded.SAN_FRANCISCO}
    )
    return area


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))


@pytest.fixture
def rider(make_user):
    return make_user("rita")


@pytest.fixture
def make_driver(make_user):
    """``make_driver(point, vehicle_type="economy")`` → a user online at ``point``."""

    def make(point=PICKUP, vehicle_type: str = "economy", username: str | None = None):
        user = make_user(username)
        drivers.driver_online(user=user, vehicle_type=vehicle_type, lat=point[0], lng=point[1])
        return user

    return make


@pytest.fixture
def request_ride(django_capture_on_commit_callbacks):
    """``request_ride(rider)`` → a ride requested at PICKUP, dispatched as after a real commit."""

    def make(rider, pickup=PICKUP, dropoff=DROPOFF, vehicle_type: str = "economy") -> Ride:
        with django_capture_on_commit_callbacks(execute=True):
            ride = trips.ride_request(rider=rider, pickup=as_dict(pickup), dropoff=as_dict(dropoff),
                                      vehicle_type=vehicle_type)
        ride.refresh_from_db()
        return ride

    return make


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """``run_commits(service, **kwargs)``: call a service and run what it scheduled after commit."""

    def call(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return call


def expire_offer(ride: Ride) -> None:
    """Let the ride's open offer run past its deadline."""
    Ride.objects.filter(pk=ride.pk, status=RideStatus.OFFERED).update(
        offer_expires_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.fixture
def ride_in(rider, make_driver, request_ride, run_commits, django_capture_on_commit_callbacks):
    """``ride_in(status)`` → (ride, driver) with the ride brought to ``status`` through the services."""
    from rides.services import dispatch

    def make(status: str):
        if status == RideStatus.REQUESTED:
            # Without running the commit hooks, dispatch never starts.
            ride = trips.ride_request(rider=rider, pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF),
                                      vehicle_type="economy")
            return ride, None
        if status == RideStatus.NO_DRIVERS:
            return request_ride(rider), None
        driver = make_driver(offset(PICKUP, 200))
        ride = request_ride(rider)
        assert ride.status == RideStatus.OFFERED
        steps = [
            (RideStatus.ACCEPTED, dispatch.ride_accept),
            (RideStatus.ARRIVED, trips.ride_arrive),
            (RideStatus.IN_PROGRESS, trips.ride_start),
            (RideStatus.COMPLETED, trips.ride_complete),
        ]
        if status == RideStatus.CANCELLED:
            dispatch.ride_accept(driver=driver, ride_id=ride.id)
            run_commits(trips.ride_cancel, user=rider, ride_id=ride.id, reason="changed my mind")
        for reached, step in steps:
            if ride.status == status or status == RideStatus.CANCELLED:
                break
            run_commits(step, driver=driver, ride_id=ride.id)
            ride.refresh_from_db()
            assert ride.status == reached
        ride.refresh_from_db()
        assert ride.status == status
        return ride, driver

    return make
