"""The WebSocket route of last resort: an unknown path is refused cleanly instead of failing the handshake."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

UNKNOWN_ROUTE_CLOSE_CODE = 4404


class UnknownRouteConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        # Accepted only to deliver a close code a client can read (the unauthenticated 4401 works alike).
        await self.accept()
        await self.close(code=UNKNOWN_ROUTE_CLOSE_CODE)


def catch_all() -> list:
    """Append last to the project's WebSocket routes."""
    return [re_path(r"", UnknownRouteConsumer.as_asgi())]
