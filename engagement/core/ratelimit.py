"""A fixed-window rate limit on anything a stranger (or a script) can repeat.

``hit("phone-code", user.pk, limit=5, window=3600)`` counts one attempt and returns False once
the limit for the window is spent. Counts live in the cache (Redis in production), so every
process shares them.
"""

import time

from django.core.cache import cache


def hit(scope: str, who: object, *, limit: int, window: int) -> bool:
    """Count an attempt; True while the caller is within ``limit`` per ``window`` seconds."""
    bucket = int(time.time() // window)
    key = f"ratelimit:{scope}:{who}:{bucket}"
    if cache.add(key, 1, timeout=window + 1):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        return True
    return count <= limit


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
