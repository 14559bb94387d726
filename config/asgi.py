"""One ASGI application for HTTP and WebSocket.

A small router answers the few hot routes (each registered in
``settings.HOT_PATH_HANDLERS``) without Django's per-request cost; everything
else goes to Django, and WebSockets go to Channels behind token/session auth.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from core.asgi import HotPathRouter  # noqa: E402
from core.ws_auth import WebSocketAuthMiddleware  # noqa: E402

application = HotPathRouter(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
        }
    )
)
