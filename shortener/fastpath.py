"""The redirect hot path: ``GET|HEAD /<code>`` answered before Django in one Redis round trip.

Only the common case is answered here: a cached, active, unexpired link without password or click
limit, asked for by a client that does not want JSON. Everything else returns None and Django's
redirect view (same services, same cache) answers.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils.encoding import iri_to_uri

from shortener import store
from shortener.enrichment import looks_like_bot
from shortener.services.links import is_reserved

# A 301 may be cached by browsers briefly (its clicks are then not seen); a 302 never.
CACHE_CONTROL = {301: "private, max-age=90", 302: "no-store"}
_PATH_RE = re.compile(r"^/([A-Za-z0-9_-]{3,32})$")


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def _client_ip(scope) -> str:
    client = scope.get("client")
    remote = client[0] if client else ""
    if remote in settings.TRUSTED_PROXIES:
        forwarded = _header(scope, b"x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return remote


async def handle(scope, receive, send) -> int | None:
    method = scope.get("method")
    if method not in ("GET", "HEAD") or scope.get("query_string"):
        return None
    match = _PATH_RE.match(scope.get("path", ""))
    if match is None:
        return None
    code = match.group(1)
    if is_reserved(code) or "json" in _header(scope, b"accept"):
        return None
    user_agent = _header(scope, b"user-agent")
    outcome = await store.aredirect(
        code,
        referrer=_header(scope, b"referer"),
        ip=_client_ip(scope),
        user_agent=user_agent,
        method=method,
        count=method == "GET" and not looks_like_bot(user_agent),
    )
    if outcome.kind != "ok":
        return None
    # The click is already recorded: from here on this handler must answer.
    location = iri_to_uri(outcome.long_url).encode("ascii", errors="replace")
    await send(
        {
            "type": "http.response.start",
            "status": outcome.redirect_type,
            "headers": [
                (b"location", location),
                (b"content-length", b"0"),
                (b"cache-control", CACHE_CONTROL[outcome.redirect_type].encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
    return outcome.redirect_type
