"""Error codes of the rides app, raised as core.errors.ApplicationError."""

from enum import StrEnum

from core.errors import ApplicationError, FieldError, NotFound


class RideError(StrEnum):
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    INVALID_COORDINATE = "invalid_coordinate"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    INVALID_TRANSITION = "invalid_transition"
    ACTIVE_RIDE = "active_ride"
    QUOTE_NOT_FOUND = "quote_not_found"
    QUOTE_EXPIRED = "quote_expired"
    QUOTE_USED = "quote_used"
    QUOTE_MISMATCH = "quote_mismatch"
    DRIVER_OFFLINE = "driver_offline"
    DRIVER_BUSY = "driver_busy"
    OFFER_EXPIRED = "offer_expired"
    NOT_RATEABLE = "not_rateable"
    ALREADY_RATED = "already_rated"
    STATUS_CHANGED = "status_changed"
    READ_ONLY = "read_only"
    UNKNOWN_TYPE = "unknown_type"
    INTERNAL = "internal"


def ride_not_found() -> NotFound:
    return NotFound("Ride not found.", RideError.NOT_FOUND)


def invalid(field: str, message: str, code: str = RideError.INVALID) -> FieldError:
    return FieldError({field: message}, code=code)


def outside_service_area(field: str = "pickup") -> ApplicationError:
    return ApplicationError("This place is outside every service area.", RideError.OUTSIDE_SERVICE_AREA,
                            status=400, field=field)


def invalid_transition(action: str, current: str) -> ApplicationError:
    error = ApplicationError(f"Not allowed while the ride is {current}.", RideError.INVALID_TRANSITION,
                             status=409, action=str(action))
    error.extra["status"] = current  # "status" would clash with the HTTP status keyword
    return error


def active_ride(ride_id: int) -> ApplicationError:
    return ApplicationError("You already have an active ride.", RideError.ACTIVE_RIDE, status=409, ride=str(ride_id))


def quote_error(code: RideError, message: str) -> FieldError:
    return FieldError({"quote_id": message}, code=code)


def driver_offline() -> ApplicationError:
    return ApplicationError("Go online first.", RideError.DRIVER_OFFLINE, status=409)


def driver_busy() -> ApplicationError:
    return ApplicationError("The driver has an active ride.", RideError.DRIVER_BUSY, status=409)


def offer_expired() -> ApplicationError:
    return ApplicationError("The offer has expired.", RideError.OFFER_EXPIRED, status=409)


def not_rateable(current: str) -> ApplicationError:
    error = ApplicationError("Only a completed ride can be rated.", RideError.NOT_RATEABLE, status=409)
    error.extra["status"] = current
    return error


def already_rated() -> ApplicationError:
    return ApplicationError("You have already rated this ride.", RideError.ALREADY_RATED, status=409)


def status_changed(seen: str, current: str) -> ApplicationError:
    error = ApplicationError(f"The ride is {current} now, no longer {seen}; look again and retry.",
                             RideError.STATUS_CHANGED, status=409, seen_status=seen)
    error.extra["status"] = current
    return error
