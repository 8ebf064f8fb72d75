"""A fixed-window rate limit on anything a stranger (or a script) can repeat.

``hit("phone-code", user.pk, limit=5, window=3600)`` counts one attempt and returns False once
the limit for the window is spent; :func:`hit_all` counts one attempt against several limits at
once (a person's and their address's). Counts live in the cache (Redis in production), so every
process shares them.
"""

import time
from typing import Any, NamedTuple

from django.core.cache import cache


class Limit(NamedTuple):
    scope: str
    who: object
    limit: int
    window: int


def hit(scope: str, who: object, *, limit: int, window: int) -> bool:
    """Count an attempt; True while the caller is within ``limit`` per ``window`` seconds."""
    return hit_all(Limit(scope, who, limit, window))


def hit_all(*limits: Limit) -> bool:
    """Count one attempt against every limit; True while it is within all of them. With Redis
    the counts are taken in one round trip."""
    now = time.time()
    keys = [(f"ratelimit:{lim.scope}:{lim.who}:{int(now // lim.window)}", lim) for lim in limits]
    redis = _redis()
    if redis is not None:
        pipe = redis.pipeline(transaction=False)
        for key, lim in keys:
            raw = cache.make_key(key)
            pipe.set(raw, 0, ex=lim.window + 1, nx=True)
            pipe.incr(raw)
        counts = pipe.execute()[1::2]
    else:
        counts = [_count(key, lim.window) for key, lim in keys]
    return all(count <= lim.limit for count, (_key, lim) in zip(counts, keys, strict=True))


def _redis() -> Any:
    """The Redis client behind the default cache (django-redis), or None for other caches."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _count(key: str, window: int) -> int:
    if cache.add(key, 1, timeout=window + 1):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        return 1


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"
