"""One ASGI application for HTTP and WebSocket.

A small router answers the few hot routes (each registered in
``settings.HOT_PATH_HANDLERS``) without Django's per-request cost; everything
else goes to Django, and WebSockets go to Channels behind token/session auth and
the origin check (core.ws_auth).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.asgi import HotPathRouter  # noqa: E402
from core.middleware import StaticFilesHandler  # noqa: E402
from core.ws_auth import WebSocketAuthMiddleware  # noqa: E402

# One address serves everything, static files included, unless a front proxy
# serves STATIC_ROOT itself (SERVE_STATIC=0). Only /static/ is intercepted.
http_app = StaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

application = HotPathRouter(
    ProtocolTypeRouter(
        {
            "http": http_app,
            # Origin checks live in the auth middleware: token sockets may come without an Origin.
            "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)
