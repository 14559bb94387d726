"""WebSocket routes of every app."""

from chat.routing import websocket_urlpatterns as chat_websockets
from core.ws_routes import catch_all
from feed.routing import websocket_urlpatterns as feed_websockets
from rides.routing import websocket_urlpatterns as rides_websockets

# Last: any other path is refused with close code 4404 (core/ws_routes.py).
websocket_urlpatterns: list = [*chat_websockets, *feed_websockets, *rides_websockets, *catch_all()]
