"""Error codes of the chat app, raised as core.errors.ApplicationError."""

from enum import StrEnum

from core.errors import ApplicationError, FieldError, NotFound


class ChatError(StrEnum):
    NOT_FOUND = "not_found"
    NOT_ADMIN = "not_admin"
    NOT_SENDER = "not_sender"
    BLOCKED = "blocked"
    TOO_LONG = "too_long"
    TOO_MANY_MEMBERS = "too_many_members"
    EMPTY_MESSAGE = "empty_message"
    INVALID = "invalid"
    UNKNOWN_USERS = "unknown_users"
    DIRECT_CONVERSATION = "direct_conversation"
    MESSAGE_DELETED = "message_deleted"
    BAD_ATTACHMENTS = "bad_attachments"
    FILE_TOO_LARGE = "file_too_large"
    INVALID_JSON = "invalid_json"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal_error"


def conversation_not_found() -> NotFound:
    return NotFound("Conversation not found.", ChatError.NOT_FOUND)


def message_not_found() -> NotFound:
    return NotFound("Message not found.", ChatError.NOT_FOUND)


def attachment_not_found() -> NotFound:
    return NotFound("Attachment not found.", ChatError.NOT_FOUND)


def user_not_found() -> NotFound:
    return NotFound("User not found.", ChatError.NOT_FOUND)


def not_admin() -> ApplicationError:
    return ApplicationError("Only a group admin can do that.", ChatError.NOT_ADMIN, status=403)


def not_sender() -> ApplicationError:
    return ApplicationError("Only the sender can change this message.", ChatError.NOT_SENDER, status=403)


def blocked() -> ApplicationError:
    return ApplicationError("You cannot message this user.", ChatError.BLOCKED, status=403)


def invalid(field: str, message: str, code: str = ChatError.INVALID) -> FieldError:
    return FieldError({field: message}, code=code)
