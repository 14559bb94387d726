from django.urls import path, re_path

from core.ws_auth import allow_anonymous
from rides.consumers import DriverConsumer, RideWatchConsumer

# Share-link viewers have no account: their consumer checks the link's token itself.
allow_anonymous(r"/ws/rides/[0-9]{1,19}/")

websocket_urlpatterns: list = [
    path("ws/rides/driver/", DriverConsumer.as_asgi()),
    re_path(r"^ws/rides/(?P<ride_id>[0-9]{1,19})/$", RideWatchConsumer.as_asgi()),
]
