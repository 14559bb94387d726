"""The ASGI front: hot routes answered directly, the rest handed to Django/Channels.

A hot handler is ``async def handle(scope, receive, send) -> int | None``: it
returns the HTTP status it answered with, or None to pass the request on (cache miss, anything unusual), so Django stays the
single source of behaviour and the hot path only ever short-circuits the common case.
"""

import time

from django.conf import settings
from django.utils.module_loading import import_string

from core.metrics import recorder


class HotPathRouter:
    def __init__(self, app, handlers=None):
        self.app = app
        paths = settings.HOT_PATH_HANDLERS if handlers is None else handlers
        self.handlers = [(path.rsplit(".", 2)[-2], import_string(path)) for path in paths]

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        if kind == "http":
            started = time.perf_counter()
            for name, handler in self.handlers:
                status = await handler(scope, receive, send)
                if status:
                    recorder.observe(f"hot:{name}", scope["method"], status, time.perf_counter() - started)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _lifespan(receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
