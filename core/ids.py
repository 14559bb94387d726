"""One rule for ids that arrive from outside (URLs, query strings, JSON bodies, socket frames).

Every database id in the project is a signed 64-bit integer. A value past that range, negative,
boolean or not made of digits can never name a row; it is refused here, before it reaches a
query (SQLite and PostgreSQL would raise on it and turn a crafted id into a 500).
"""

import re

from django.urls import register_converter

MAX_ID = (1 << 63) - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value) -> int | None:
    """``value`` as an id in 0..2^63-1 (an int or a string of digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ID else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
        return number if number <= MAX_ID else None
    return None


def is_id(value) -> bool:
    return parse_id(value) is not None


class IdConverter:
    """``<id:name>`` in a URL: digits within the 64-bit range; anything else does not match (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)  # the resolver tries the next pattern, then answers 404
        return number

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")
