"""Error codes of the feed, raised as core.errors.ApplicationError.

Messages and statuses follow Mastodon's API: 404 "Record not found", 422 "Validation
failed: …", 403 "This action is not allowed".
"""

from enum import StrEnum

from core.errors import ApplicationError, FieldError, NotFound


class FeedError(StrEnum):
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    VALIDATION_FAILED = "validation_failed"
    NOT_ALLOWED = "not_allowed"
    OUTSIDE_SCOPES = "outside_scopes"
    INVALID_TOKEN = "invalid_token"
    USER_REQUIRED = "user_required"
    RATE_LIMITED = "rate_limited"


def record_not_found() -> NotFound:
    return NotFound("Record not found", FeedError.NOT_FOUND)


def validation_failed(field: str, message: str) -> ApplicationError:
    """Mastodon's 422 for a record it would not save, naming the field."""
    return ApplicationError(
        f"Validation failed: {message}", FeedError.VALIDATION_FAILED, status=422, fields={field: [message]}
    )


def not_allowed() -> ApplicationError:
    return ApplicationError("This action is not allowed", FeedError.NOT_ALLOWED, status=403)


def invalid(field: str, message: str) -> FieldError:
    return FieldError({field: message}, code=FeedError.INVALID)


def outside_scopes(required: str) -> ApplicationError:
    """Mastodon's 403 for a token whose scopes do not cover the action."""
    return ApplicationError("This action is outside the authorized scopes", FeedError.OUTSIDE_SCOPES, status=403,
                            required_scope=required)


def rate_limited(retry_after: int) -> ApplicationError:
    return ApplicationError("Too many requests", FeedError.RATE_LIMITED, status=429, retry_after=retry_after)


def invalid_token() -> ApplicationError:
    return ApplicationError("The access token is invalid", FeedError.INVALID_TOKEN, status=401)


def user_required() -> ApplicationError:
    """Mastodon's answer to an app token (client credentials) on an endpoint of an account."""
    return ApplicationError("This method requires an authenticated user", FeedError.USER_REQUIRED, status=422)
