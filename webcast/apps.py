from django.apps import AppConfig


class WebcastConfig(AppConfig):
    name = "webcast"
