"""The Redis cache backend shares one client per process between cache objects."""

import threading

from engagement.core.cache import RedisCache


def test_cache_objects_with_the_same_settings_share_one_client_and_work(redis_url):
    params = {"KEY_PREFIX": "test-shared-client", "TIMEOUT": 60}
    made: list[RedisCache] = []

    def per_request() -> None:  # Django makes a cache object per request context like this
        made.append(RedisCache(redis_url, dict(params)))

    threads = [threading.Thread(target=per_request) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second, third = made

    first.set("greeting", "shwmae")
    assert second.get("greeting") == "shwmae"
    assert first.client is second.client is third.client
    other = RedisCache(redis_url, {"KEY_PREFIX": "another-prefix", "TIMEOUT": 60})
    assert other.client is not first.client
    assert other.get("greeting") is None  # its own key prefix
    first.delete("greeting")
