"""Websocket routes of the whole project."""

from django.urls import path

from engagement.realtime.consumers import StreamConsumer

websocket_urlpatterns = [
    path("ws/streams/", StreamConsumer.as_asgi()),
]
