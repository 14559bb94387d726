"""JSON request bodies, decoded one way for DRF views and hot handlers alike.

Python's decoder raises RecursionError (not ValueError) on deeply nested input; both paths turn
it into a 400 naming the body instead of a 500 (or, on the hot path, a request nobody answers).
"""

from rest_framework import parsers
from rest_framework.utils import json as drf_json

# core.errors imports DRF's views, which import this module (DEFAULT_PARSER_CLASSES): import it late.


def nested_too_deeply():
    from core.errors import FieldError

    return FieldError({"body": "JSON nested too deeply."}, code="parse_error")


def json_body(body: bytes) -> object:
    """Decode a request body as the API's parser does (NaN and Infinity refused).

    Raises ApplicationError ``parse_error`` (400) for anything that is not JSON.
    """
    from core.errors import ApplicationError

    try:
        return drf_json.loads(body)
    except RecursionError:
        raise nested_too_deeply() from None
    except ValueError as exc:
        raise ApplicationError(f"JSON parse error - {exc}", "parse_error") from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with deep nesting answered as a 400 too."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise nested_too_deeply() from None
