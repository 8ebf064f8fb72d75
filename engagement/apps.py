from django.apps import AppConfig


class EngagementConfig(AppConfig):
    """The project package itself: static files, locale and project-wide commands."""

    name = "engagement"
    verbose_name = "Moot"
