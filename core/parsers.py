"""JSON request bodies, decoded one way for DRF views and hot handlers alike.

Python's decoder recurses once per level: thousands of nested brackets raise RecursionError (not
ValueError) and surfaced as a 500, or on the hot path as a request nobody answered. Bodies nested
deeper than ``MAX_JSON_DEPTH`` are refused as a 400 ``parse_error`` naming the body, on both paths.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import parsers
from rest_framework.utils import json as drf_json

DEFAULT_MAX_JSON_DEPTH = 64

# core.errors imports DRF's views, which import this module (DEFAULT_PARSER_CLASSES): import it late.


class JSONTooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def max_json_depth() -> int:
    return int(getattr(settings, "MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))


def depth_exceeds(value: object, limit: int) -> bool:
    """Whether arrays/objects in ``value`` nest deeper than ``limit`` (iterative: no recursion)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(raw: bytes | str, *, max_depth: int | None = None) -> object:
    """Decode JSON as the API does (NaN and Infinity refused); JSONTooDeep past the depth limit.

    Raises ValueError for anything that is not JSON; JSONTooDeep (a ValueError) for deep nesting,
    never RecursionError.
    """
    limit = max_json_depth() if max_depth is None else max_depth
    try:
        value = drf_json.loads(raw)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.") from None
    if _openers(raw) > limit and depth_exceeds(value, limit):
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.")
    return value


def _openers(raw: bytes | str) -> int:
    """How many ``[`` and ``{`` the text holds: no document nests deeper than that, so a body with
    fewer (almost every one) skips the walk of its decoded value."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def nested_too_deeply(exc: JSONTooDeep):
    from core.errors import CoreError, FieldError

    return FieldError({"body": str(exc)}, code=CoreError.PARSE_ERROR)


def json_body(body: bytes) -> object:
    """Decode a request body; raises ApplicationError ``parse_error`` (400) for anything that is not JSON."""
    from core.errors import ApplicationError, CoreError

    try:
        return loads(body)
    except JSONTooDeep as exc:
        raise nested_too_deeply(exc) from None
    except ValueError as exc:
        raise ApplicationError(f"JSON parse error - {exc}", CoreError.PARSE_ERROR) from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with bodies nested deeper than ``MAX_JSON_DEPTH`` answered as a 400 too."""

    def parse(self, stream, media_type=None, parser_context=None):
        from rest_framework.exceptions import ParseError

        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
            return loads(text)
        except JSONTooDeep as exc:
            raise nested_too_deeply(exc) from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
