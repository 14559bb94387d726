"""A rider's ride from request to receipt: request, the driver's progress, cancellation, ratings."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from rides import errors, geo, selectors, store
from rides.errors import RideError
from rides.models import RIDER_ACTIVE, DriverProfile, Quote, Rating, Ride, RideStatus
from rides.services import batching
from rides.services.dispatch import release_driver
from rides.services.drivers import parse_vehicle_type
from rides.services.lifecycle import advance, lock_driver, lock_ride
from rides.services.pricing import fare_for, quote_create
from rides.store import DriverState
from rides.transitions import Action

User = get_user_model()

MAX_REASON_LENGTH = 500
MAX_COMMENT_LENGTH = 500
# A quote is for the trip it priced: the request must start and end within this of its points.
QUOTE_MATCH_M = 200


def _quote_for(*, rider: User, quote_id, vehicle_type: str, pickup, dropoff) -> Quote:
    try:
        quote = Quote.objects.filter(pk=int(quote_id), owner=rider).first() if int(quote_id) < 2**63 else None
    except (TypeError, ValueError):
        quote = None
    if quote is None:
        raise errors.quote_error(RideError.QUOTE_NOT_FOUND, "No such quote of yours.")
    if quote.expires_at <= timezone.now():
        raise errors.quote_error(RideError.QUOTE_EXPIRED, "The quote has expired; ask for a new estimate.")
    if (quote.vehicle_type != vehicle_type
            or geo.great_circle_m(quote.pickup_lat, quote.pickup_lng, *pickup) > QUOTE_MATCH_M
            or geo.great_circle_m(quote.dropoff_lat, quote.dropoff_lng, *dropoff) > QUOTE_MATCH_M):
        raise errors.quote_error(RideError.QUOTE_MISMATCH, "The quote is for another trip.")
    if Ride.objects.filter(quote=quote).exists():
        raise errors.quote_error(RideError.QUOTE_USED, "The quote has already been used.")
    return quote


def ride_request(*, rider: User, pickup, dropoff, vehicle_type, quote_id=None) -> Ride:
    """Create a ``requested`` ride at the quote's price (a fresh quote without one) and start dispatch.

    One active ride per rider and one ride per quote, also under concurrent requests (unique
    constraints decide). Raises FieldError (coordinates, vehicle type, quote: not found, expired,
    used, for another trip), ``outside_service_area`` (400), ``active_ride`` (409).
    """
    pickup = geo.parse_point(pickup, "pickup")
    dropoff = geo.parse_point(dropoff, "dropoff")
    vehicle_type = parse_vehicle_type(vehicle_type)
    area = selectors.service_area_required(*pickup)
    active = Ride.objects.filter(rider=rider, status__in=RIDER_ACTIVE).first()
    if active:
        raise errors.active_ride(active.id)
    if quote_id in (None, ""):
        quote = quote_create(owner=rider, pickup=pickup, dropoff=dropoff, vehicle_type=vehicle_type).quote
    else:
        quote = _quote_for(rider=rider, quote_id=quote_id, vehicle_type=vehicle_type, pickup=pickup, dropoff=dropoff)
    try:
        with transaction.atomic():
            ride = Ride.objects.create(
                rider=rider, vehicle_type=vehicle_type, service_area=area,
                pickup_lat=pickup[0], pickup_lng=pickup[1], pickup_cell=selectors.surge_cell(*pickup),
                dropoff_lat=dropoff[0], dropoff_lng=dropoff[1], quote=quote, estimated_fare=quote.amount,
                surge_multiplier=quote.surge_multiplier, distance_m=quote.distance_m, duration_s=quote.duration_s,
                currency=quote.currency,
            )
            batching.enqueue_request(ride)
    except IntegrityError:
        active = Ride.objects.filter(rider=rider, status__in=RIDER_ACTIVE).first()
        if active:
            raise errors.active_ride(active.id) from None
        raise errors.quote_error(RideError.QUOTE_USED, "The quote has already been used.") from None
    return ride


def _driver_step(*, driver: User, ride_id, action: Action, **fields) -> Ride:
    with transaction.atomic():
        ride = lock_ride(ride_id)
        if ride.driver_id != driver.id:
            raise errors.ride_not_found()
        if action is Action.COMPLETE:
            fields |= _receipt(ride, completed_at=fields["completed_at"])
        event = advance(ride, action, actor_id=driver.id, **fields)
        if action is Action.COMPLETE:
            transaction.on_commit(lambda: store.driver_set_state(driver.id, DriverState.FREE, version=event.id))
    return ride


def ride_arrive(*, driver: User, ride_id) -> Ride:
    """The assigned driver is at the pickup: ``accepted → arrived``. NotFound, 409 ``invalid_transition``."""
    return _driver_step(driver=driver, ride_id=ride_id, action=Action.ARRIVE, arrived_at=timezone.now())


def ride_start(*, driver: User, ride_id) -> Ride:
    """The rider is aboard: ``arrived → in_progress``. NotFound, 409 ``invalid_transition``."""
    return _driver_step(driver=driver, ride_id=ride_id, action=Action.START, started_at=timezone.now())


def ride_complete(*, driver: User, ride_id) -> Ride:
    """At the dropoff: ``in_progress → completed`` with the fare computed and kept as an itemised
    receipt (the route's distance, the trip's real duration, the surge the quote locked in).
    NotFound, 409 ``invalid_transition``."""
    return _driver_step(driver=driver, ride_id=ride_id, action=Action.COMPLETE, completed_at=timezone.now())


def _receipt(ride: Ride, *, completed_at) -> dict:
    duration = max(0.0, (completed_at - (ride.started_at or completed_at)).total_seconds())
    fare = fare_for(vehicle_type=ride.vehicle_type, distance_m=ride.distance_m, duration_s=duration,
                    surge_multiplier=ride.surge_multiplier)
    return {"fare_base": fare.base, "fare_distance": fare.distance, "fare_time": fare.time,
            "fare_surge": fare.surge, "fare_total": fare.total}


def _cancellation_fee(ride: Ride, now) -> Decimal:
    """The rider pays once the driver has arrived, or when cancelling more than the grace period
    (2 minutes by default) after the driver accepted."""
    grace = timedelta(seconds=settings.RIDES_CANCELLATION_GRACE_SECONDS)
    late = ride.status == RideStatus.ARRIVED or (
        ride.status == RideStatus.ACCEPTED and ride.accepted_at and now - ride.accepted_at > grace
    )
    return Decimal(settings.RIDES_CANCELLATION_FEE).quantize(Decimal("0.01"), ROUND_HALF_UP) if late else Decimal(0)


def _text(value, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.invalid(field, "A string is required.")
    if len(value) > limit:
        raise errors.invalid(field, f"At most {limit} characters.")
    return value.strip()


def _seen_status(value) -> str | None:
    if value is None:
        return None
    if value not in RideStatus.values:
        raise errors.invalid("seen_status", f"One of {', '.join(RideStatus.values)}.")
    return value


def ride_cancel(*, user: User, ride_id, reason=None, seen_status=None) -> Ride:
    """The rider (``requested|offered|accepted|arrived``) or the assigned driver (``accepted|arrived``)
    cancels. A rider cancelling late pays ``RIDES_CANCELLATION_FEE``, kept on the receipt.

    ``seen_status`` is the status the caller last saw: when the ride has moved on since (e.g. a
    driver accepted while the rider tapped cancel), nothing changes and the caller gets 409
    ``status_changed`` with the current status to decide again, so of a cancel and an accept that
    race exactly one succeeds. Without it a cancel applies to whatever state allows it.

    Raises FieldError (reason, seen_status), NotFound (not a party), ``invalid_transition`` /
    ``status_changed`` (409).
    """
    reason = _text(reason, "reason", MAX_REASON_LENGTH)
    seen_status = _seen_status(seen_status)
    with transaction.atomic():
        ride = lock_ride(ride_id)
        if user.id == ride.rider_id:
            action, by = Action.CANCEL, "rider"
        elif user.id == ride.driver_id:
            action, by = Action.DRIVER_CANCEL, "driver"
        else:
            raise errors.ride_not_found()
        if seen_status is not None and seen_status != ride.status:
            raise errors.status_changed(seen_status, ride.status)
        now = timezone.now()
        fee = _cancellation_fee(ride, now) if by == "rider" else Decimal(0)
        driver_id = ride.driver_id
        event = advance(ride, action, actor_id=user.id, reason=reason, cancelled_at=now, cancelled_by=by,
                        cancel_reason=reason, cancellation_fee=fee, fare_total=fee, offer_expires_at=None)
        release_driver(driver_id, ride.id, event)
    return ride


def _stars(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise errors.invalid("stars", "A whole number from 1 to 5.")
    return value


def ride_rate(*, user: User, ride_id, stars, comment=None) -> Rating:
    """The rider rates the driver or the driver the rider, once each, after completion.

    A rider's stars move the driver's average under the driver's row lock. Raises FieldError
    (stars, comment), NotFound (not a party), ``not_rateable`` / ``already_rated`` (409).
    """
    stars = _stars(stars)
    comment = _text(comment, "comment", MAX_COMMENT_LENGTH)
    ride = Ride.objects.filter(pk=selectors.parse_ride_id(ride_id)).first()
    if ride is None or user.id not in (ride.rider_id, ride.driver_id):
        raise errors.ride_not_found()
    if ride.status != RideStatus.COMPLETED:
        raise errors.not_rateable(ride.status)
    side, ratee_id = (Rating.Side.RIDER, ride.driver_id) if user.id == ride.rider_id else (
        Rating.Side.DRIVER, ride.rider_id)
    try:
        with transaction.atomic():
            profile = lock_driver(ride.driver_id) if side == Rating.Side.RIDER else None
            rating = Rating.objects.create(ride=ride, side=side, rater=user, ratee_id=ratee_id, stars=stars,
                                           comment=comment)
            if profile is not None:
                total = profile.rating * profile.rating_count + stars
                profile.rating_count += 1
                profile.rating = (total / profile.rating_count).quantize(Decimal("0.01"), ROUND_HALF_UP)
                DriverProfile.objects.filter(pk=profile.pk).update(rating=profile.rating,
                                                                   rating_count=profile.rating_count)
    except IntegrityError:
        raise errors.already_rated() from None
    return rating
