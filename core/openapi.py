"""OpenAPI documentation of the platform's error answers (drf-spectacular).

Every error the API answers has the one body built by ``core.errors.error_body``; views list the
statuses they really answer with ``extend_schema(responses={200: …, **error_responses(400, 404)})``
so the schema (and the fuzz run that checks it) know each of them.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorOut(serializers.Serializer):
    """``{"error", "code", "fields"?}``; some codes add keys (``retry_after``, ``suggested`` …)."""

    error = serializers.CharField(help_text="A message for people")
    code = serializers.CharField(help_text="A stable code for programs")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Validation errors: the messages for each field that was wrong",
    )
    retry_after = serializers.IntegerField(required=False, help_text="429: seconds until a retry may succeed")
    required_scope = serializers.CharField(required=False, help_text="403 of the feed: the OAuth scope the token lacks")

    class Meta:
        ref_name = "Error"


_MEANINGS = {
    400: "Invalid input: `fields` names each field that was wrong (`parse_error` for a malformed body)",
    401: "No credentials, or a wrong, revoked or malformed token",
    403: "Not allowed (a session without a CSRF token is refused too)",
    404: "No such object, or not one the caller may see",
    409: "Conflict with existing data",
    410: "Gone",
    413: "The request body is larger than the server accepts",
    415: "The body's media type is not one the operation reads (or its multipart is malformed)",
    422: "Mastodon's validation failure (`Validation failed: …`): `fields` names the field",
    429: "Rate limited: retry after `Retry-After` seconds",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers for ``statuses``, all with the platform's error body."""
    return {status: OpenApiResponse(ErrorOut, description=_MEANINGS[status]) for status in statuses}


# What any operation that needs a signed-in caller may answer besides its own errors.
SIGNED_IN = (401,)
# … and an unsafe one (a session without CSRF is a 403; a body may be malformed or too large).
SIGNED_IN_WRITE = (400, 401, 403, 413)
