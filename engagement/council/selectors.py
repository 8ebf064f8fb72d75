"""Reading the council settings singleton, cached across requests and invalidated on save."""

from django.core.cache import cache

from .models import CouncilSettings

CACHE_KEY = "council-settings:v1"


def council_settings() -> CouncilSettings:
    settings_obj = cache.get(CACHE_KEY)
    if settings_obj is None:
        settings_obj = CouncilSettings.objects.order_by("pk").first() or CouncilSettings()
        cache.set(CACHE_KEY, settings_obj, 300)
    return settings_obj
