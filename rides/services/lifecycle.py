"""The one path every ride transition takes: locks in a fixed order, the table's check, the event.

Lock order: the driver's profile row first (when a driver is involved), then the ride row.
On SQLite every transaction is BEGIN IMMEDIATE (see settings), which serialises writers
the same way.
"""

from django.utils import timezone

from rides import errors, events, selectors, transitions
from rides.models import DriverProfile, Ride, RideEvent
from rides.transitions import Action


def lock_driver(driver_id: int) -> DriverProfile | None:
    return DriverProfile.objects.select_for_update().filter(pk=driver_id).first()


def lock_ride(ride_id) -> Ride:
    ride = Ride.objects.select_for_update().filter(pk=selectors.parse_ride_id(ride_id)).first()
    if ride is None:
        raise errors.ride_not_found()
    return ride


def advance(ride: Ride, action: Action, *, actor_id: int | None, reason: str = "", **fields) -> RideEvent:
    """Move a locked ride by ``action`` (409 ``invalid_transition`` when the table forbids it),
    set ``fields`` on it and store the event; call inside the transaction holding the lock.

    The transition is announced to the ride's sockets (and its drivers') once the transaction
    commits (``events.transition_announce``); a rolled-back move is never announced."""
    from_status = ride.status
    ride.status = transitions.target_status(action, from_status)
    driver_id = ride.driver_id
    for name, value in fields.items():
        setattr(ride, name, value)
    ride.save()
    at = timezone.now()
    event = RideEvent.objects.create(
        ride=ride, at=at, actor_id=actor_id, action=action, from_status=from_status,
        to_status=ride.status, driver_id=driver_id, reason=reason[:500],
    )
    events.transition_announce(ride, from_status=from_status, previous_driver_id=driver_id, at=at)
    return event
