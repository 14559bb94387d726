"""``manage.py rides_simulate`` on tiny numbers: simulated people go through the real API, the
rides and events are real, and the figures it prints add up."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from rides import store
from rides.models import Ride, RideEvent, RideStatus, ServiceArea
from rides.simulation import City

pytestmark = pytest.mark.django_db(transaction=True)

# About 2.2 × 2.2 km around Civic Center, inside the default San Francisco area: every driver
# is within the dispatcher's search radius of every pickup.
SMALL = [[37.770, -122.430], [37.790, -122.430], [37.790, -122.405], [37.770, -122.405]]


@pytest.fixture
def small_area():
    return ServiceArea.objects.create(slug="civic", name="Civic Center", polygon=SMALL)


def _simulate(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rides_simulate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_tiny_run_requests_matches_and_reports_through_the_api(small_area):
    out, err = _simulate("--drivers", "4", "--riders", "3", "--minutes", "0.4", "--tick", "4", "--speedup", "0",
                         "--seed", "7", "--request-probability", "1", "--area", "civic", "--json")

    summary = json.loads(out)
    rides = Ride.objects.filter(rider__username__startswith="sim-rider-")
    assert summary["requests"] == rides.count() >= 3
    assert summary["accepted"] >= 1
    assert summary["accepted"] == RideEvent.objects.filter(action="accept", actor__username__startswith="sim-driver-").count()
    assert 0 < summary["match_rate"] <= 1
    assert summary["mean_pickup_eta_s"] > 0
    assert summary["dispatch_latency_ms"]["samples"] >= summary["accepted"]
    assert summary["location_updates"] == 4 * 6  # every driver, every step, through the batch endpoint
    assert summary["batched_vs_greedy_total_pickup_eta_s"]["batched"] <= \
        summary["batched_vs_greedy_total_pickup_eta_s"]["greedy"]
    assert "6/6 steps" in err  # the progress bar reached its end


def test_the_run_ends_with_drivers_offline_and_no_request_left_open(small_area):
    _simulate("--drivers", "2", "--riders", "2", "--minutes", "0.2", "--speedup", "0", "--seed", "1",
              "--request-probability", "1", "--area", "civic")

    assert not Ride.objects.filter(status__in=[RideStatus.REQUESTED, RideStatus.OFFERED]).exists()
    for driver in Ride.objects.values_list("driver_id", flat=True).distinct():
        if driver and not Ride.objects.filter(driver_id=driver, status__in=["accepted", "arrived", "in_progress"]):
            assert store.driver_get(driver) is None


def test_the_text_report_names_each_figure(small_area):
    out, _ = _simulate("--drivers", "2", "--riders", "2", "--minutes", "0.1", "--speedup", "0", "--seed", "2",
                       "--area", "civic")

    for figure in ("match rate:", "mean pickup ETA at acceptance:", "dispatch latency (request → first offer):",
                   "total pickup ETA, batched vs greedy"):
        assert figure in out


def test_drivers_follow_a_ride_to_completion(small_area):
    city = City(drivers_count=1, riders_count=1, tick_s=30, seed=5, request_probability=1, area="civic")
    city.start()
    for _ in range(40):
        city.step()
        if city.figures.completed:
            break
    city.stop()

    assert city.figures.completed >= 1
    ride = Ride.objects.filter(status=RideStatus.COMPLETED).first()
    assert [e.action for e in ride.events.all()] == ["offer", "accept", "arrive", "start", "complete"]
    assert ride.ratings.count() in (0, 1)


@pytest.mark.parametrize(("args", "message"), [
    (["--drivers", "0"], "--drivers"),
    (["--minutes", "-1"], "--minutes"),
    (["--tick", "0"], "--tick"),
    (["--minutes", "nan"], "--minutes"),
    (["--area", "atlantis"], "atlantis"),
])
def test_bad_arguments_are_refused_with_the_option_named(args, message):
    with pytest.raises(CommandError, match=message):
        _simulate(*args)
