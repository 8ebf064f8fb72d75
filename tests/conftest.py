"""Fixtures for the whole suite: users by role, signed-in clients, the live ASGI server, a
real Chromium driven by Playwright, and the axe-core accessibility check."""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from engagement.accounts.models import Role
from engagement.launcher import free_port

from .factories import make_user

pytest_plugins = ["tests.browser_fixtures"]

# Property tests judge what an input gives, never how fast: on a shared machine a draw or an
# example can stall for seconds, and a timing check there would fail a correct test.
hypothesis_settings.register_profile(
    "moot", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("moot")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Cached council settings and per-process memos must not leak between tests."""
    from engagement.core.memo import forget_all
    from engagement.council.selectors import council_settings_forget

    cache.clear()
    council_settings_forget()
    forget_all()
    translation.activate("en-gb")  # a Welsh request in one test must not leak into the next
    yield
    translation.deactivate()
    cache.clear()
    council_settings_forget()
    forget_all()


@pytest.fixture
def resident(db):
    return make_user("resident@example.org", roles=(Role.RESIDENT,), name="Rhian Resident")


@pytest.fixture
def councillor_user(db):
    return make_user("cllr@example.org", roles=(Role.COUNCILLOR,))


@pytest.fixture
def staff(db):
    return make_user("staff@example.org", roles=(Role.STAFF,))


@pytest.fixture
def admin_user(db):
    return make_user("admin@example.org", roles=(Role.ADMIN,))


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def resident_client(resident) -> Client:
    return _client_for(resident)


@pytest.fixture
def staff_client(staff) -> Client:
    return _client_for(staff)


@pytest.fixture
def admin_client_2fa(admin_user) -> Client:
    return _client_for(admin_user)


class LiveServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when set (CI); otherwise a private Redis started for this test session."""
    from django.conf import settings

    if settings.REDIS_URL:
        yield settings.REDIS_URL
        return
    import subprocess
    import tempfile

    from engagement.launcher import redis_command, wait_for_port

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moot-test-redis-") as workdir:
        proc = subprocess.Popen(redis_command(port, workdir))  # noqa: S603
        try:
            wait_for_port(port, 10, proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def redis_channel_layer(settings, redis_url) -> Iterator[None]:
    """The Redis channel layer, so the live server's loop and the test thread can talk."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # As in production (settings.base): a read timeout longer than the layer's 5 s
            # blocking pop, so an idle stream's reader waits instead of failing every 5 s.
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": 30}],
                "prefix": f"moot-live-{os.getpid()}",
            },
        }
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def asgi_live_server(transactional_db, redis_channel_layer) -> Iterator[LiveServer]:
    """The real ASGI application (HTTP and websockets) served by uvicorn on a loopback port.

    It runs in a thread of the test process, so it uses the test database; tests that use it
    are transactional (their writes are committed so the server's threads see them).
    """
    import uvicorn

    from engagement.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live ASGI server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def _test_media_root(tmp_path_factory) -> None:
    from django.conf import settings

    settings.MEDIA_ROOT = Path(tmp_path_factory.mktemp("media"))
    os.environ.setdefault("MOOT_TEST", "1")


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session, which async tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
