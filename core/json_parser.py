"""JSON request bodies with a nesting limit, for DRF and for handlers that parse bodies themselves.

Python's decoder recurses once per level: thousands of nested brackets exhaust the stack and
surface as a 500. Bodies nested deeper than ``MAX_JSON_DEPTH`` are refused as a parse error.
"""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

DEFAULT_MAX_JSON_DEPTH = 64


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


def loads(raw: bytes | str, *, max_depth: int | None = None, **kwargs) -> object:
    """``json.loads`` that raises JSONTooDeep (a ValueError) for deep nesting, never RecursionError."""
    limit = max_json_depth() if max_depth is None else max_depth
    try:
        value = json.loads(raw, **kwargs)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.") from None
    if depth_exceeds(value, limit):
        raise JSONTooDeep(f"JSON nested deeper than {limit} levels.")
    return value


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, answering bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400 parse_error."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        parse_constant = strict_constant if self.strict else None
        try:
            text = codecs.getreader(encoding)(stream).read()
            return loads(text, parse_constant=parse_constant)
        except ValueError as exc:  # UnicodeDecodeError and JSONTooDeep included
            raise ParseError(f"JSON parse error - {exc}")
