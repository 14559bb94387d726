"""WebSocket groups and frames of ride dispatch, and their publication after commit.

Groups:
- ``rides.ride.<id>``: every socket watching one ride (its rider, its driver, staff, share-link
  viewers) gets ``ride.status`` on each transition and ``driver.location`` while a driver is
  assigned.
- ``rides.driver.<id>``: a driver's own sockets get ``ride.offer`` / ``offer.revoked`` and the
  ``ride.status`` of the ride they are assigned to.

Each channel message is ``{"type": "rides.event", "frame": <frame>, "driver": <driver id|None>}``:
``driver`` is the ride's driver when the event happened, so a driver's socket on a ride that has
moved to someone else (a declined or timed-out offer) stops receiving it. The channel layer is
at-most-once; a socket that reconnects gets the current state first.
"""

from datetime import datetime

from core import publish
from rides.models import DRIVER_ACTIVE, Ride, RideStatus

APP = "rides"
EVENT_HANDLER = "rides.event"  # consumer method rides_event

# A share link dies with these; its viewers' sockets close after the final status.
FINISHED = (RideStatus.COMPLETED, RideStatus.CANCELLED, RideStatus.NO_DRIVERS)
# A driver's position reaches the ride's watchers only while the driver is on their way or aboard.
LOCATION_STATUSES = (RideStatus.ACCEPTED, RideStatus.ARRIVED, RideStatus.IN_PROGRESS)


def ride_group(ride_id: int) -> str:
    return f"rides.ride.{ride_id}"


def driver_group(driver_id: int) -> str:
    return f"rides.driver.{driver_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _point(lat: float, lng: float) -> dict:
    return {"lat": lat, "lng": lng}


def message(frame: dict, driver_id: int | None) -> dict:
    return {"type": EVENT_HANDLER, "frame": frame, "driver": driver_id}


def driver_public(user, profile) -> dict:
    """What a rider (and a share viewer) may know of the assigned driver."""
    return {
        "username": user.username,
        "vehicle_type": profile.vehicle_type if profile else None,
        "rating": float(profile.rating) if profile else None,
    }


def ride_status(ride: Ride, *, driver: dict | None = None, at: datetime | None = None) -> dict:
    """``ride.status``: the state every watcher of a ride may see (no fare, no rider identity)."""
    return {
        "type": "ride.status",
        "ride": str(ride.id),
        "status": ride.status,
        "at": _iso(at),
        "vehicle_type": ride.vehicle_type,
        "pickup": _point(ride.pickup_lat, ride.pickup_lng),
        "dropoff": _point(ride.dropoff_lat, ride.dropoff_lng),
        # Named only once assigned: a driver holding an offer may still pass it on.
        "driver": driver if ride.status not in (RideStatus.REQUESTED, RideStatus.OFFERED) else None,
        "offer_expires_at": _iso(ride.offer_expires_at),
    }


def ride_offer(ride: Ride) -> dict:
    return {
        "type": "ride.offer",
        "ride": str(ride.id),
        "pickup": _point(ride.pickup_lat, ride.pickup_lng),
        "dropoff": _point(ride.dropoff_lat, ride.dropoff_lng),
        "fare": {"amount": f"{ride.estimated_fare:.2f}", "currency": ride.currency},
        "vehicle_type": ride.vehicle_type,
        "expires_at": _iso(ride.offer_expires_at),
    }


def offer_revoked(ride_id: int) -> dict:
    return {"type": "offer.revoked", "ride": str(ride_id)}


def driver_location(*, lat: float, lng: float, heading: float | None, eta_s: int | None) -> dict:
    return {"type": "driver.location", "lat": lat, "lng": lng, "heading": heading, "eta_s": eta_s}


def _driver_details(driver_id: int | None) -> dict | None:
    from rides.models import DriverProfile

    if driver_id is None:
        return None
    profile = DriverProfile.objects.select_related("user").filter(pk=driver_id).first()
    return driver_public(profile.user, profile) if profile else None


def transition_announce(ride: Ride, *, from_status: str, previous_driver_id: int | None, at: datetime) -> None:
    """Schedule the frames of one transition for after the commit (call inside its transaction).

    The frame is built now, from the locked ride, so each transition is announced as it was
    even when the next one follows at once; the driver's public details are read at commit.
    """
    ride_copy = Ride(**{f.attname: getattr(ride, f.attname) for f in Ride._meta.concrete_fields})
    driver_id = ride.driver_id

    def status_message() -> dict:
        return message(ride_status(ride_copy, driver=_driver_details(driver_id), at=at), driver_id)

    groups = [ride_group(ride.id)]
    # A driver's own socket follows the ride they are assigned to, to its end.
    assigned = driver_id if ride.status in DRIVER_ACTIVE else None
    if from_status in DRIVER_ACTIVE and previous_driver_id:
        assigned = previous_driver_id
    if assigned:
        groups.append(driver_group(assigned))
    publish.publish_on_commit(groups, status_message, app=APP)
    if ride.status == RideStatus.OFFERED and driver_id:
        publish.publish_on_commit([driver_group(driver_id)], message(ride_offer(ride_copy), driver_id), app=APP)
    if from_status == RideStatus.OFFERED and ride.status != RideStatus.ACCEPTED and previous_driver_id:
        publish.publish_on_commit([driver_group(previous_driver_id)],
                                  message(offer_revoked(ride.id), previous_driver_id), app=APP)


def location_announce(*, ride_id: int, driver_id: int, frame: dict) -> None:
    """Send a driver's position to the ride's watchers now (nothing to commit: it lives in Redis)."""
    publish.publish_now([ride_group(ride_id)], message(frame, driver_id), app=APP)


async def join(group: str, channel_name: str) -> None:
    await publish.group_join(group, channel_name)


async def leave(group: str, channel_name: str) -> None:
    await publish.group_leave(group, channel_name)
