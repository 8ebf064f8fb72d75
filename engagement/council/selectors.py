"""Reading the council settings singleton.

Every request reads it (the header, the language switch), so it is cached twice: in this
process for a few seconds (no network round trip at all) and in the shared cache until it
changes. A change clears both here at once and reaches other processes within
``LOCAL_TTL_SECONDS``.
"""

import time

from django.core.cache import cache

from .models import CouncilSettings

CACHE_KEY = "council-settings:v1"
LOCAL_TTL_SECONDS = 5.0

_local: dict[str, object] = {"value": None, "until": 0.0}


def council_settings() -> CouncilSettings:
    now = time.monotonic()
    value = _local["value"]
    if value is not None and now < _local["until"]:  # type: ignore[operator]
        return value  # type: ignore[return-value]
    value = cache.get(CACHE_KEY)
    if value is None:
        value = CouncilSettings.objects.order_by("pk").first() or CouncilSettings()
        cache.set(CACHE_KEY, value, 300)
    _local["value"], _local["until"] = value, now + LOCAL_TTL_SECONDS
    return value


def council_settings_forget() -> None:
    """Drop both cached copies (called after a change commits)."""
    _local["value"], _local["until"] = None, 0.0
    cache.delete(CACHE_KEY)
