from django.urls import path

from feed.streaming import StreamingConsumer

websocket_urlpatterns: list = [path("api/v1/streaming", StreamingConsumer.as_asgi())]
