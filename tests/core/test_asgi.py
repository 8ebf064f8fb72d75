"""HTTP through the project's ASGI application (``engagement.asgi``), as uvicorn calls it."""

import asyncio

import pytest
from asgiref.sync import SyncToAsync

from engagement.asgi import django_asgi_app
from engagement.core.handlers import RunningLimit, SyncChainASGIHandler
from tests.factories import WardFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ward(transactional_db):
    return WardFactory(name="Aberffin Central")


async def call(
    path: str, method: str = "GET", body: bytes = b"", headers=(), disconnect_after: float = 0
) -> tuple[int, dict, bytes]:
    from engagement.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        if disconnect_after:
            await asyncio.sleep(disconnect_after)
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # the client stays connected
        return {}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    if not sent:
        return 0, {}, b""
    start = sent[0]
    headers_out = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers_out, content


def test_the_http_side_runs_the_middleware_chain_without_thread_hops():
    assert isinstance(django_asgi_app, SyncChainASGIHandler)
    assert not isinstance(django_asgi_app._middleware_chain, SyncToAsync)


async def test_a_page_that_reads_the_database_is_served_with_the_middleware_applied(ward):
    status, headers, content = await call("/wards/")
    assert status == 200
    assert ward.name.encode() in content
    assert headers["server-timing"].startswith("app;dur=")
    assert "content-security-policy" in headers


async def test_many_requests_at_once_each_get_a_working_database_connection(ward):
    results = await asyncio.gather(*(call(f"/wards/{ward.slug}/") for _ in range(20)))
    assert [status for status, _, _ in results] == [200] * 20


async def test_a_post_without_a_csrf_token_is_refused_and_a_missing_page_is_a_404():
    status, _, _ = await call(
        "/accounts/login/",
        method="POST",
        body=b"login=a%40b.invalid&password=x",
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
    )
    assert status == 403
    status, _, content = await call("/no-such-page/")
    assert status == 404
    assert b"<html" in content


async def test_request_threads_are_reused_not_started_per_request(ward):
    threads = django_asgi_app.threads
    threads._idle.clear()
    for _ in range(5):
        await call("/healthz")
    assert len(threads._idle) == 1  # one thread served the five in turn
    await asyncio.gather(*(call(f"/wards/{ward.slug}/") for _ in range(8)))
    assert 1 <= len(threads._idle) <= 8


async def test_no_more_requests_run_at_once_than_the_limit_and_the_rest_wait(settings, monkeypatch):
    from tests.core import urls_asgi

    settings.ROOT_URLCONF = "tests.core.urls_asgi"
    urls_asgi.running.update(now=0, most=0)
    monkeypatch.setattr(django_asgi_app, "running", RunningLimit(2))
    results = await asyncio.gather(*(call("/busy/") for _ in range(6)))
    assert [(status, content) for status, _, content in results] == [(200, b"done")] * 6
    assert urls_asgi.running == {"now": 0, "most": 2}


async def test_a_request_whose_client_left_keeps_its_place_until_its_view_ends(
    settings, monkeypatch
):
    """The view of a client that left still runs on its thread: the next request waits for it."""
    from tests.core import urls_asgi

    settings.ROOT_URLCONF = "tests.core.urls_asgi"
    urls_asgi.running.update(now=0, most=0)
    monkeypatch.setattr(django_asgi_app, "running", RunningLimit(2))
    await asyncio.gather(*(call("/busy/", disconnect_after=0.05) for _ in range(6)))
    assert urls_asgi.running == {"now": 0, "most": 2}


@pytest.fixture
def two_wards(ward):
    return ward, WardFactory(name="Bryn")


async def test_a_streamed_body_reads_the_database_on_the_request_thread(settings, two_wards):
    from tests.core import urls_asgi

    settings.ROOT_URLCONF = "tests.core.urls_asgi"
    urls_asgi.finished.clear()
    status, headers, content = await call("/streamed/")
    assert status == 200
    assert content == b"Aberffin Central\nBryn\n"
    assert urls_asgi.finished == ["streamed"]


async def test_a_client_that_leaves_early_gets_nothing_and_breaks_nothing(settings, ward):
    from tests.core import urls_asgi

    settings.ROOT_URLCONF = "tests.core.urls_asgi"
    urls_asgi.finished.clear()
    status, _, _ = await call("/slow/", disconnect_after=0.05)
    assert status == 0  # nothing was sent to a client that had gone
    await asyncio.sleep(0.4)  # the view, in its thread, still runs to the end
    assert urls_asgi.finished == ["slow"]
    status, _, content = await call("/slow/")  # and the next request is served as usual
    assert (status, content) == (200, b"late")
