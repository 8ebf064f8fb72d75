"""The Redis cache backend: django-redis with one client per process.

Django keeps a cache object per request under ASGI (its cache handler is context-local), and
django-redis builds a new client, and with it a new ``redis.Redis``, for each cache object. That
was about a tenth of the server's CPU on the voting path under load (redis-py inspects its own
signature on every ``Redis()``). The client holds no per-request state and its connection pool is
thread-safe, so here every cache object with the same settings shares one client per process.
"""

from typing import Any

from django_redis.cache import RedisCache as DjangoRedisCache

_clients: dict[tuple[str, str], Any] = {}


class RedisCache(DjangoRedisCache):
    @property
    def client(self) -> Any:
        if self._client is None:
            key = (repr(self._server), repr(sorted(self._params.items(), key=lambda kv: kv[0])))
            if key not in _clients:
                _clients.setdefault(key, self._client_cls(self._server, self._params, self))
            self._client = _clients[key]
        return self._client
