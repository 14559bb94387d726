"""Error codes of the shortener, raised as core.errors.ApplicationError."""

from enum import StrEnum

from core.errors import ApplicationError


class ShortenerErrorCode(StrEnum):
    ALIAS_TAKEN = "alias_taken"
    LINK_DELETED = "link_deleted"
    LINK_GONE = "link_gone"
    IMPORT_INVALID = "import_invalid"
    ALIAS_RESERVED = "alias_reserved"
    BLOCKED_HOST = "blocked_host"
    HOST_ALREADY_BLOCKED = "duplicate"
    PASSWORD_REQUIRED = "password_required"
    PASSWORD_WRONG = "password_wrong"
    PASSWORD_UNAVAILABLE = "unavailable"


def alias_taken(suggested: list[str]) -> ApplicationError:
    return ApplicationError(
        "Custom alias already taken", ShortenerErrorCode.ALIAS_TAKEN, status=409, suggested=suggested
    )


def link_deleted() -> ApplicationError:
    return ApplicationError("This link was deleted.", ShortenerErrorCode.LINK_DELETED, status=410)
