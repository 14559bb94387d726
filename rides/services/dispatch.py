"""Matching a requested ride to a driver: offers held by a Redis lock, accept, decline, timeout.

The dispatcher searches the pickup's GEO set with a widening radius (``DISPATCH_RADII_M``),
ranks free and fresh drivers by ``selectors.candidate_cost`` and offers the ride to the best
one whose offer lock (``SET NX``, ``DISPATCH_OFFER_SECONDS``) it can take. A driver never holds
two offers (the lock) nor an offer beside an active ride (checked under the driver's row lock).
An offer that is neither accepted nor declined in time is expired by a delayed task and, should
that task be lost with its worker, by the beat sweep ``offers_expire_due``; a ride whose dispatch
task was lost is picked up by ``rides_dispatch_stalled``.
"""

import enum
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from rides import errors, selectors, store
from rides.models import DRIVER_ACTIVE, Ride, RideEvent, RideStatus
from rides.services.lifecycle import advance, lock_driver, lock_ride
from rides.store import DriverState
from rides.transitions import Action, is_allowed

User = get_user_model()


def enqueue_dispatch(ride_id: int) -> None:
    from rides.tasks import dispatch_ride

    transaction.on_commit(lambda: dispatch_ride.delay(ride_id))


class OfferOutcome(enum.Enum):
    OFFERED = "offered"
    DRIVER_UNAVAILABLE = "driver_unavailable"
    RIDE_GONE = "ride_gone"


def _offer(ride_id: int, driver_id: int) -> OfferOutcome:
    """Offer the ride to a driver whose offer lock the caller holds."""
    from rides.tasks import offer_timeout

    with transaction.atomic():
        if lock_driver(driver_id) is None:
            return OfferOutcome.DRIVER_UNAVAILABLE
        ride = lock_ride(ride_id)
        if not is_allowed(Action.OFFER, ride.status):
            return OfferOutcome.RIDE_GONE
        if selectors.driver_has_ride(driver_id, (RideStatus.OFFERED, *DRIVER_ACTIVE)):
            return OfferOutcome.DRIVER_UNAVAILABLE
        seconds = settings.DISPATCH_OFFER_SECONDS
        event = advance(ride, Action.OFFER, actor_id=None, reason="dispatch", driver_id=driver_id,
                        offer_round=ride.offer_round + 1,
                        offer_expires_at=timezone.now() + timedelta(seconds=seconds))
        offer_round = ride.offer_round
        transaction.on_commit(lambda: store.driver_set_state(driver_id, DriverState.OFFERED, version=event.id))
        transaction.on_commit(lambda: offer_timeout.apply_async((ride_id, offer_round), countdown=seconds))
    return OfferOutcome.OFFERED


def _passed_drivers(ride_id: int) -> set[int]:
    """Drivers who declined or let this ride's offer time out: never offered it again."""
    return set(RideEvent.objects.filter(ride_id=ride_id, action__in=[Action.DECLINE, Action.OFFER_TIMEOUT])
               .exclude(driver=None).values_list("driver_id", flat=True))


def ride_dispatch(*, ride_id: int) -> RideStatus | None:
    """Offer a requested ride to the best available driver, widening the search radius as needed;
    with nobody left after the widest radius the ride ends as ``no_drivers``.

    Idempotent: a ride that is not ``requested`` (already offered, cancelled …) is left alone.
    Returns the ride's status afterwards (None when it was not requested).
    """
    ride = Ride.objects.select_related("service_area").filter(pk=ride_id).first()
    if ride is None or ride.status != RideStatus.REQUESTED:
        return None
    round_seen = ride.offer_round
    tried = _passed_drivers(ride.id)
    for radius in settings.DISPATCH_RADII_M:
        candidates = selectors.dispatch_candidates(
            area=ride.service_area.slug, vehicle_type=ride.vehicle_type, lat=ride.pickup_lat, lng=ride.pickup_lng,
            radius_m=radius, exclude=tried,
        )
        for candidate in candidates:
            tried.add(candidate.driver_id)
            if not store.offer_lock_acquire(candidate.driver_id, ride.id, settings.DISPATCH_OFFER_SECONDS):
                continue
            outcome = _offer(ride.id, candidate.driver_id)
            if outcome is OfferOutcome.OFFERED:
                return RideStatus.OFFERED
            store.offer_lock_release(candidate.driver_id, ride.id)
            if outcome is OfferOutcome.RIDE_GONE:
                return Ride.objects.get(pk=ride.id).status
    return _give_up(ride.id, round_seen)


def _give_up(ride_id: int, round_seen: int) -> RideStatus:
    with transaction.atomic():
        ride = lock_ride(ride_id)
        # Another dispatcher may have made an offer meanwhile: leave that one running.
        if ride.offer_round == round_seen and is_allowed(Action.NO_DRIVERS, ride.status):
            advance(ride, Action.NO_DRIVERS, actor_id=None, reason="no driver available within the widest radius",
                    driver=None, offer_expires_at=None)
        return ride.status


def release_driver(driver_id: int | None, ride_id: int, event: RideEvent) -> None:
    """After commit, free the driver the transition ``event`` took off the ride."""
    if driver_id:
        transaction.on_commit(lambda: store.offer_finish(driver_id, ride_id, DriverState.FREE, event.id))


def ride_accept(*, driver: User, ride_id) -> Ride:
    """The offered driver takes the ride: ``offered → accepted``.

    Exactly one of concurrent accepts wins: the driver's row and then the ride's are locked and
    the status, the offer's deadline and the driver's other rides are checked under those locks
    (a partial unique constraint backs the last check). Raises NotFound (not this driver's offer),
    ``invalid_transition`` / ``offer_expired`` / ``driver_busy`` (409).
    """
    try:
        with transaction.atomic():
            lock_driver(driver.id)
            ride = lock_ride(ride_id)
            if ride.driver_id != driver.id:
                raise errors.ride_not_found()
            if is_allowed(Action.ACCEPT, ride.status) and ride.offer_expires_at <= timezone.now():
                raise errors.offer_expired()
            if is_allowed(Action.ACCEPT, ride.status) and selectors.driver_has_ride(driver.id, DRIVER_ACTIVE):
                raise errors.driver_busy()
            event = advance(ride, Action.ACCEPT, actor_id=driver.id, accepted_at=timezone.now(),
                            offer_expires_at=None)
            transaction.on_commit(lambda: store.offer_finish(driver.id, ride.id, DriverState.BUSY, event.id))
    except IntegrityError:
        raise errors.driver_busy() from None
    return ride


def ride_decline(*, driver: User, ride_id, reason: str = "") -> Ride:
    """The offered driver passes: ``offered → requested`` and the next candidate is sought.

    Raises NotFound (not this driver's offer), ``invalid_transition`` (409).
    """
    with transaction.atomic():
        ride = lock_ride(ride_id)
        if ride.driver_id != driver.id:
            raise errors.ride_not_found()
        event = advance(ride, Action.DECLINE, actor_id=driver.id, reason=reason or "declined", driver=None,
                        offer_expires_at=None)
        release_driver(driver.id, ride.id, event)
        enqueue_dispatch(ride.id)
    return ride


def offer_expire(*, ride_id: int, offer_round: int) -> bool:
    """Expire one offer whose deadline passed: ``offered → requested``, then the next candidate.

    Idempotent: a later round, an answered offer or one still running (a task delivered early)
    is left alone. Returns whether the offer expired now.
    """
    with transaction.atomic():
        ride = lock_ride(ride_id)
        if (ride.status != RideStatus.OFFERED or ride.offer_round != offer_round
                or ride.offer_expires_at > timezone.now()):
            return False
        driver_id = ride.driver_id
        event = advance(ride, Action.OFFER_TIMEOUT, actor_id=None, reason="offer timed out", driver=None,
                        offer_expires_at=None)
        release_driver(driver_id, ride.id, event)
        enqueue_dispatch(ride.id)
    return True


def offers_expire_due() -> int:
    """The safety net behind the delayed tasks: expire every offer past its deadline."""
    due = Ride.objects.filter(status=RideStatus.OFFERED, offer_expires_at__lte=timezone.now())
    return sum(offer_expire(ride_id=ride_id, offer_round=offer_round)
               for ride_id, offer_round in due.values_list("id", "offer_round"))


# A ride waits in "requested" for a moment at most; longer means its dispatch task was lost.
STALLED_AFTER = timedelta(seconds=5)


def rides_dispatch_stalled() -> int:
    """Dispatch every ride left ``requested`` for longer than ``STALLED_AFTER`` (a lost task, a
    broker outage at commit); returns how many were looked at. Safe beside a running dispatch:
    offers are taken under the driver's lock and ``ride_dispatch`` leaves a ride that moved on alone."""
    stalled = Ride.objects.filter(status=RideStatus.REQUESTED, requested_at__lt=timezone.now() - STALLED_AFTER)
    ride_ids = list(stalled.values_list("id", flat=True)[:500])
    for ride_id in ride_ids:
        ride_dispatch(ride_id=ride_id)
    return len(ride_ids)
