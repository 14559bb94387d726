"""The state machine: every allowed transition, every forbidden one, each stored as an event."""

import itertools

import pytest

from core.errors import ApplicationError
from rides.models import RideEvent, RideStatus
from rides.transitions import TRANSITIONS, Action, target_status

S = RideStatus
# The binding state machine, written out independently of rides/transitions.py.
EXPECTED = {
    (Action.OFFER, S.REQUESTED): S.OFFERED,
    (Action.DECLINE, S.OFFERED): S.REQUESTED,
    (Action.OFFER_TIMEOUT, S.OFFERED): S.REQUESTED,
    (Action.NO_DRIVERS, S.REQUESTED): S.NO_DRIVERS,
    (Action.NO_DRIVERS, S.OFFERED): S.NO_DRIVERS,
    (Action.ACCEPT, S.OFFERED): S.ACCEPTED,
    (Action.ARRIVE, S.ACCEPTED): S.ARRIVED,
    (Action.START, S.ARRIVED): S.IN_PROGRESS,
    (Action.COMPLETE, S.IN_PROGRESS): S.COMPLETED,
    (Action.CANCEL, S.REQUESTED): S.CANCELLED,
    (Action.CANCEL, S.OFFERED): S.CANCELLED,
    (Action.CANCEL, S.ACCEPTED): S.CANCELLED,
    (Action.CANCEL, S.ARRIVED): S.CANCELLED,
    (Action.DRIVER_CANCEL, S.ACCEPTED): S.CANCELLED,
    (Action.DRIVER_CANCEL, S.ARRIVED): S.CANCELLED,
}


@pytest.mark.parametrize(("action", "status"), list(itertools.product(Action, S)))
def test_the_table_allows_exactly_the_binding_transitions(action, status):
    expected = EXPECTED.get((action, status))
    if expected:
        assert target_status(action, status) == expected
    else:
        with pytest.raises(ApplicationError) as caught:
            target_status(action, status)
        assert caught.value.status == 409
        assert caught.value.as_dict()["code"] == "invalid_transition"
        assert caught.value.as_dict()["status"] == status


def test_every_action_is_in_the_table():
    assert set(TRANSITIONS) == set(Action)


BASE = "/api/v1/rides"
DRIVER_STEPS = ["accept", "arrive", "start", "complete"]


@pytest.mark.django_db
def test_a_ride_goes_through_every_state_to_completed_with_one_event_per_transition(
    rider, make_driver, request_ride, client_for
):
    from tests.rides.conftest import PICKUP, offset

    driver = make_driver(offset(PICKUP, 300))
    ride = request_ride(rider)
    assert ride.status == S.OFFERED and ride.driver_id == driver.id
    api = client_for(driver)
    for step, status in zip(DRIVER_STEPS, [S.ACCEPTED, S.ARRIVED, S.IN_PROGRESS, S.COMPLETED], strict=True):
        response = api.post(f"{BASE}/{ride.id}/{step}", format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == status
    events = list(RideEvent.objects.filter(ride=ride).values_list("action", "from_status", "to_status", "actor_id"))
    assert events == [
        ("offer", "requested", "offered", None),
        ("accept", "offered", "accepted", driver.id),
        ("arrive", "accepted", "arrived", driver.id),
        ("start", "arrived", "in_progress", driver.id),
        ("complete", "in_progress", "completed", driver.id),
    ]
    assert all(e.at for e in RideEvent.objects.filter(ride=ride))


FORBIDDEN_DRIVER_STEPS = [
    (state, step)
    for state in (S.OFFERED, S.ACCEPTED, S.ARRIVED, S.IN_PROGRESS, S.COMPLETED, S.CANCELLED)
    for step in ["accept", "decline", "arrive", "start", "complete", "cancel"]
    if (Action.DRIVER_CANCEL if step == "cancel" else Action(step), state) not in EXPECTED
]


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "step"), FORBIDDEN_DRIVER_STEPS)
def test_a_driver_step_not_allowed_in_the_state_is_409_with_the_status(ride_in, client_for, state, step):
    ride, driver = ride_in(state)
    events_before = RideEvent.objects.filter(ride=ride).count()
    response = client_for(driver).post(f"{BASE}/{ride.id}/{step}", {}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition" and body["status"] == state and body["error"]
    ride.refresh_from_db()
    assert ride.status == state
    assert RideEvent.objects.filter(ride=ride).count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("state", [S.IN_PROGRESS, S.COMPLETED, S.CANCELLED, S.NO_DRIVERS])
def test_the_rider_cannot_cancel_once_the_ride_is_past_pickup_or_over(ride_in, rider, client_for, state):
    ride, _ = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": "late"}, format="json")
    assert response.status_code == 409
    assert response.json()["status"] == state


@pytest.mark.django_db
@pytest.mark.parametrize("state", [S.REQUESTED, S.OFFERED, S.ACCEPTED, S.ARRIVED])
def test_the_rider_may_cancel_before_the_trip_starts(ride_in, rider, client_for, state):
    ride, driver = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"reason": "plans changed"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled" and body["cancelled_by"] == "rider" and body["cancel_reason"] == "plans changed"
    event = RideEvent.objects.filter(ride=ride).last()
    assert (event.action, event.from_status, event.to_status, event.actor_id, event.reason) == (
        "cancel", state, "cancelled", rider.id, "plans changed"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("state", [S.ACCEPTED, S.ARRIVED])
def test_the_assigned_driver_may_cancel_and_is_free_again(ride_in, client_for, state,
                                                          django_capture_on_commit_callbacks):
    from rides import store

    ride, driver = ride_in(state)
    assert store.driver_get(driver.id)["state"] == "busy"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(driver).post(f"{BASE}/{ride.id}/cancel", {"reason": "flat tyre"}, format="json")
    assert response.status_code == 200
    assert response.json()["cancelled_by"] == "driver"
    assert response.json()["receipt"]["cancellation_fee"] == "0.00"
    assert store.driver_get(driver.id)["state"] == "free"


@pytest.mark.django_db
def test_a_driver_holding_only_an_offer_cannot_cancel_it(ride_in, client_for):
    ride, driver = ride_in(S.OFFERED)
    response = client_for(driver).post(f"{BASE}/{ride.id}/cancel", {}, format="json")
    assert response.status_code == 409 and response.json()["status"] == "offered"


def test_a_cancel_with_the_status_the_rider_saw_applies_while_it_holds(ride_in, rider, client_for):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"seen_status": "accepted"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize(("state", "seen"), [(RideStatus.ACCEPTED, "offered"), (RideStatus.ARRIVED, "accepted"),
                                             (RideStatus.OFFERED, "requested")])
def test_a_cancel_of_a_ride_that_moved_on_since_the_rider_looked_is_409_and_changes_nothing(
        ride_in, rider, client_for, state, seen):
    ride, _ = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"seen_status": seen}, format="json")
    assert response.status_code == 409
    assert response.json() | {"error": ""} == {"error": "", "code": "status_changed", "status": state,
                                               "seen_status": seen}
    ride.refresh_from_db()
    assert ride.status == state and not ride.events.filter(action="cancel").exists()


@pytest.mark.parametrize("seen", ["later", 3, "", ["offered"]])
def test_a_cancel_with_an_unknown_seen_status_is_400_naming_it(ride_in, rider, client_for, seen):
    ride, _ = ride_in(RideStatus.OFFERED)
    response = client_for(rider).post(f"{BASE}/{ride.id}/cancel", {"seen_status": seen}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["seen_status"]
    ride.refresh_from_db()
    assert ride.status == RideStatus.OFFERED


def test_a_stranger_learns_nothing_from_seen_status(ride_in, make_user, client_for):
    ride, _ = ride_in(RideStatus.OFFERED)
    response = client_for(make_user()).post(f"{BASE}/{ride.id}/cancel", {"seen_status": "requested"}, format="json")
    assert response.status_code == 404
