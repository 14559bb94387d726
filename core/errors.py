"""One error type for the whole project and the DRF handler that renders it.

Every API error is ``{"error": <message>, "code": <code>, ...extra}``; validation
errors add ``"fields": {name: [messages]}``.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApplicationError(Exception):
    """A failure the caller can act on: rendered as a 4xx JSON error."""

    def __init__(self, message: str, code: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class FieldError(ApplicationError):
    """Invalid input for named fields."""

    def __init__(self, fields: dict[str, list[str] | str], message: str | None = None, code: str = "invalid"):
        normalised = {k: v if isinstance(v, list) else [v] for k, v in fields.items()}
        first_field, first_messages = next(iter(normalised.items()))
        super().__init__(
            message or f"{first_field}: {first_messages[0]}", code, status=400, fields=normalised
        )


class NotFound(ApplicationError):
    def __init__(self, message: str = "Not found.", code: str = "not_found"):
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
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "parse_error",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response(exc.as_dict(), status=exc.status)
        if retry_after := exc.extra.get("retry_after"):
            response["Retry-After"] = str(int(retry_after))
        return response
    if isinstance(exc, RequestDataTooBig):  # Django's own limit on bodies, hit while DRF reads one
        return Response({"error": "Request body too large.", "code": "too_large"}, status=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response({"error": str(exc), "code": "too_many_fields"}, status=400)
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
        response.data = {"error": message, "code": "invalid", "fields": fields}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        message = " ".join(_flatten(exc.detail)) if hasattr(exc, "detail") else str(exc)
        response.data = {"error": message, "code": code}
    return response
