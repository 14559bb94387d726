"""Hot-path handlers for the platform benchmark (registered through HOT_PATH_HANDLERS)."""

from core.redis import get_async_redis

_LOCATION = [(b"location", b"https://example.com/"), (b"content-length", b"0")]


async def handle(scope, receive, send) -> int | None:
    path = scope["path"]
    if path == "/bench/hot-redirect":
        pass
    elif path == "/bench/hot-redirect-redis":
        # One Redis round trip, the cost a cached short-link lookup pays.
        await get_async_redis().get("bench:platform:probe")
    else:
        return None
    await send({"type": "http.response.start", "status": 302, "headers": _LOCATION})
    await send({"type": "http.response.body", "body": b""})
    return 302
