"""The ASGI front: hot routes answered directly, the rest handed to Django/Channels.

A hot handler is ``async def handle(scope, receive, send) -> int | None``: it
returns the HTTP status it answered with, or None to pass the request on (cache
miss, anything unusual), so Django stays the single source of behaviour and the
hot path only ever short-circuits the common case. A handler that raises before
sending anything also passes the request on (logged, counted as status 599 under
``hot:<module>``). Handlers must not read the request body unless they answer.
"""

import logging
import time

from django.conf import settings
from django.utils.module_loading import import_string

from core.metrics import recorder

logger = logging.getLogger(__name__)


class _TrackedSend:
    """Remembers whether a handler started its response, so a failure can still fall back."""

    __slots__ = ("send", "started")

    def __init__(self, send):
        self.send = send
        self.started = False

    async def __call__(self, message):
        self.started = True
        await self.send(message)


class HotPathRouter:
    def __init__(self, app, handlers=None):
        self.app = app
        paths = settings.HOT_PATH_HANDLERS if handlers is None else handlers
        self.handlers = [(path.rsplit(".", 2)[-2], import_string(path)) for path in paths]

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        if kind == "http" and self.handlers:
            started = time.perf_counter()
            guarded = _TrackedSend(send)
            for name, handler in self.handlers:
                try:
                    status = await handler(scope, receive, guarded)
                except Exception:
                    if guarded.started:
                        raise  # half a response is out: nothing sane left to do
                    # Redis down, a bug in the shortcut…: Django still knows how to answer.
                    logger.exception("hot path handler %s failed; handing the request to Django", name)
                    recorder.observe(f"hot:{name}", scope["method"], 599, time.perf_counter() - started)
                    break
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
