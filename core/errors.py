"""One error type for the whole project and the one builder of error bodies.

Every error a client sees is ``{"error": <message>, "code": <code>, ...extra}``;
validation errors add ``"fields": {name: [messages]}``. ``error_body`` builds it,
and each surface wraps that one dict:

- DRF views: ``api_exception_handler`` (set in ``REST_FRAMEWORK``);
- plain Django views: ``error_response`` / ``application_error_response``, and the
  ``handler400/403/404/500`` views in ``core.views`` for ``/api/`` paths;
- hot ASGI handlers: ``error_json`` (the body as bytes);
- WebSocket consumers: ``error_frame`` (``{"type": "error", ..., "ref"}``).

Each app keeps its codes in a ``StrEnum`` of its own (``CoreError`` here).
"""

import json
from enum import StrEnum
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class CoreError(StrEnum):
    """Error codes of the platform (auth, generic HTTP failures)."""

    INVALID = "invalid"
    PARSE_ERROR = "parse_error"
    BAD_REQUEST = "bad_request"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    INVALID_CREDENTIALS = "invalid_credentials"
    PERMISSION_DENIED = "permission_denied"
    CSRF_FAILED = "csrf_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_LARGE = "too_large"
    TOO_MANY_FIELDS = "too_many_fields"
    IMAGE_TOO_LARGE = "image_too_large"
    RATE_LIMITED = "rate_limited"
    USERNAME_TAKEN = "username_taken"
    INVALID_USERNAME = "invalid_username"
    WEAK_PASSWORD = "weak_password"
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    ERROR = "error"


def error_body(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """The one error body: ``{"error": message, "code": code, **extra}``."""
    return {"error": message, "code": str(code), **extra}


def error_json(message: str, code: str, **extra: Any) -> bytes:
    """``error_body`` serialised, for ASGI handlers that write bytes themselves."""
    return json.dumps(error_body(message, code, **extra)).encode()


def error_frame(message: str, code: str, ref: Any = None, **extra: Any) -> dict[str, Any]:
    """A WebSocket ``error`` frame; ``ref`` echoes the client's frame reference."""
    return {"type": "error", **error_body(message, code, **extra), "ref": ref}


def error_response(message: str, code: str, status: int, **extra: Any) -> JsonResponse:
    """A JSON error for plain Django views, with Retry-After when ``retry_after`` is given."""
    response = JsonResponse(error_body(message, code, **extra), status=status)
    if retry_after := extra.get("retry_after"):
        response["Retry-After"] = str(int(retry_after))
    return response


class ApplicationError(Exception):
    """A failure the caller can act on: rendered as a 4xx JSON error."""

    def __init__(self, message: str, code: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return error_body(self.message, self.code, **self.extra)

    def as_frame(self, ref: Any = None) -> dict[str, Any]:
        return error_frame(self.message, self.code, ref, **self.extra)


def application_error_response(exc: ApplicationError) -> JsonResponse:
    return error_response(exc.message, exc.code, exc.status, **exc.extra)


def retry_after_headers(exc: ApplicationError) -> list[tuple[bytes, bytes]]:
    """The ``Retry-After`` header of ``exc`` for ASGI handlers (empty when it carries none)."""
    if retry_after := exc.extra.get("retry_after"):
        return [(b"retry-after", str(int(retry_after)).encode())]
    return []


class FieldError(ApplicationError):
    """Invalid input for named fields."""

    def __init__(
        self, fields: dict[str, list[str] | str], message: str | None = None, code: str = CoreError.INVALID
    ):
        normalised = {k: v if isinstance(v, list) else [v] for k, v in fields.items()}
        first_field, first_messages = next(iter(normalised.items()))
        super().__init__(
            message or f"{first_field}: {first_messages[0]}", code, status=400, fields=normalised
        )


class NotFound(ApplicationError):
    def __init__(self, message: str = "Not found.", code: str = CoreError.NOT_FOUND):
        super().__init__(message, code, status=404)


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    return {"non_field_errors": _flatten(detail)}


_CODES = {
    exceptions.NotAuthenticated: CoreError.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: CoreError.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: CoreError.PERMISSION_DENIED,
    exceptions.NotFound: CoreError.NOT_FOUND,
    exceptions.MethodNotAllowed: CoreError.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: CoreError.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: CoreError.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: CoreError.RATE_LIMITED,
    exceptions.ParseError: CoreError.PARSE_ERROR,
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response(exc.as_dict(), status=exc.status)
        if retry_after := exc.extra.get("retry_after"):
            response["Retry-After"] = str(int(retry_after))
        return response
    if isinstance(exc, RequestDataTooBig):  # Django's own limit on bodies, hit while DRF reads one
        return Response(error_body("Request body too large.", CoreError.TOO_LARGE), status=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(error_body(str(exc), CoreError.TOO_MANY_FIELDS), status=400)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (templated, no trace)
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        first_field, first_messages = next(iter(fields.items()), ("non_field_errors", ["Invalid input."]))
        message = first_messages[0] if first_field == "non_field_errors" else f"{first_field}: {first_messages[0]}"
        response.data = error_body(message, CoreError.INVALID, fields=fields)
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), CoreError.ERROR)
        message = " ".join(_flatten(exc.detail)) if hasattr(exc, "detail") else str(exc)
        response.data = error_body(message, code)
    return response
