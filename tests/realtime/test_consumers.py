"""Round trips through the real consumer: permissions, live delivery, resume and backfill."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from engagement.asgi import application
from engagement.realtime import streams
from engagement.realtime.consumers import CLOSE_BAD_REQUEST, CLOSE_FORBIDDEN, StreamConsumer
from engagement.realtime.selectors import BACKFILL_LIMIT
from engagement.realtime.services import publish

from .frames import messages_in, receive_messages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _test_streams():
    streams.register("demo", can_watch=streams.public)
    streams.register("secret", can_watch=streams.council_staff)


def _communicator(path: str, user=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), path)
    communicator.scope["user"] = user or AnonymousUser()
    return communicator


async def test_a_client_receives_events_published_after_it_joined():
    communicator = _communicator("/ws/streams/?s=demo.1")
    connected, _ = await communicator.connect()
    assert connected

    await database_sync_to_async(publish)(stream="demo.1", event="hello", html="<p>hi</p>")

    message = await communicator.receive_from(timeout=3)
    assert message == (
        '<span hidden id="moot-seq-demo-1" data-moot-stream="demo.1" data-moot-seq="1" '
        'hx-swap-oob="true"></span><p>hi</p>'
    )
    await communicator.disconnect()


async def test_resume_replays_what_the_client_missed_then_goes_live():
    for n in range(1, 4):
        await database_sync_to_async(publish)(stream="demo.2", event="n", html=f"<p>{n}</p>")
    communicator = _communicator("/ws/streams/?s=demo.2")
    assert (await communicator.connect())[0]

    await communicator.send_json_to({"type": "resume", "stream": "demo.2", "after": 1})
    replayed = await receive_messages(communicator, 2)
    await database_sync_to_async(publish)(stream="demo.2", event="n", html="<p>4</p>")
    live = await communicator.receive_from(timeout=3)

    assert [m.split("</span>")[1] for m in replayed] == ["<p>2</p>", "<p>3</p>"]
    assert 'data-moot-seq="4"' in live
    assert live.endswith("<p>4</p>")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_client_too_far_behind_is_told_to_reload():
    def many() -> None:
        for _ in range(BACKFILL_LIMIT + 1):
            publish(stream="demo.3", event="n")

    await database_sync_to_async(many)()
    communicator = _communicator("/ws/streams/?s=demo.3")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "resume", "stream": "demo.3", "after": 0})
    assert "data-moot-reload" in await communicator.receive_from(timeout=3)
    await communicator.disconnect()


async def test_a_stream_the_user_may_not_watch_is_refused():
    communicator = _communicator("/ws/streams/?s=demo.4&s=secret.1")
    connected, code = await communicator.connect()
    assert (connected, code) == (False, CLOSE_FORBIDDEN)


async def test_staff_may_watch_a_staff_stream(staff):
    communicator = _communicator("/ws/streams/?s=secret.2", user=staff)
    assert (await communicator.connect())[0]
    await communicator.disconnect()


@pytest.mark.parametrize(
    "path", ["/ws/streams/", "/ws/streams/?s=nokind.1", "/ws/streams/?s=BAD NAME"]
)
async def test_unknown_or_malformed_streams_are_refused(path):
    connected, code = await _communicator(path).connect()
    assert not connected
    assert code in {CLOSE_FORBIDDEN, CLOSE_BAD_REQUEST}


async def test_garbage_messages_are_ignored_without_dropping_the_connection():
    communicator = _communicator("/ws/streams/?s=demo.5")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="not json {")
    await communicator.send_json_to({"type": "resume", "stream": "other.1", "after": 0})
    await communicator.send_json_to({"type": "resume", "stream": "demo.5", "after": "x"})
    assert await communicator.receive_nothing(timeout=0.2)
    await database_sync_to_async(publish)(stream="demo.5", event="n", html="<p>ok</p>")
    assert (await communicator.receive_from(timeout=3)).endswith("<p>ok</p>")
    await communicator.disconnect()


async def test_the_project_routes_websockets_to_the_stream_consumer():
    communicator = WebsocketCommunicator(
        application, "/ws/streams/?s=demo.6", headers=[(b"origin", b"http://127.0.0.1")]
    )
    assert (await communicator.connect())[0]
    await communicator.disconnect()


async def test_staff_streams_need_two_factor_like_staff_pages():
    from tests.factories import make_user

    admin_without_2fa = await database_sync_to_async(make_user)(
        "no2fa-admin@example.org", roles=("admin",), totp=False
    )
    for stream in ("secret.3", "audit"):
        connected, code = await _communicator(
            f"/ws/streams/?s={stream}", user=admin_without_2fa
        ).connect()
        assert (connected, code) == (False, CLOSE_FORBIDDEN)


async def test_odd_resume_numbers_are_ignored_and_replays_are_limited_per_connection():
    from engagement.realtime.consumers import MAX_REPLAYS

    await database_sync_to_async(publish)(stream="demo.7", event="n", html="<p>1</p>")
    communicator = _communicator("/ws/streams/?s=demo.7")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data='{"type": "resume", "stream": "demo.7", "after": 1e400}')
    await communicator.send_to(
        text_data='{"type": "resume", "stream": "demo.7", "after": Infinity}'
    )
    assert await communicator.receive_nothing(timeout=0.2)
    # A client that saw a gap asks again on the same connection: it is replayed again ...
    for _ in range(MAX_REPLAYS):
        await communicator.send_json_to({"type": "resume", "stream": "demo.7", "after": 0})
        assert (await communicator.receive_from(timeout=3)).endswith("<p>1</p>")
    # ... but only so often (each replay reads the database); reconnecting starts afresh.
    await communicator.send_json_to({"type": "resume", "stream": "demo.7", "after": 0})
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_client_whose_missed_events_were_pruned_is_told_to_reload():
    from engagement.realtime.models import StreamEvent

    def publish_three_and_prune_the_first() -> None:
        for _ in range(3):
            publish(stream="demo.8", event="n")
        StreamEvent.objects.filter(stream="demo.8", seq=1).delete()

    await database_sync_to_async(publish_three_and_prune_the_first)()
    communicator = _communicator("/ws/streams/?s=demo.8")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "resume", "stream": "demo.8", "after": 0})
    assert "data-moot-reload" in await communicator.receive_from(timeout=3)
    await communicator.disconnect()


async def test_a_new_channel_layer_leaves_the_viewers_groups_of_the_old_one_alone(
    redis_channel_layer,
):
    """When the settings give a new default layer (tests, a reload), the publisher of the old
    one is closed: closing must release its connections only, not empty the Redis groups the
    process's viewers are members of under the same prefix."""
    from channels.layers import channel_layers

    communicator = _communicator("/ws/streams/?s=demo.9")
    assert (await communicator.connect())[0]
    await database_sync_to_async(publish)(stream="demo.9", event="n", html="<p>1</p>")
    assert (await communicator.receive_from(timeout=3)).endswith("<p>1</p>")
    channel_layers.backends.clear()  # the next publish makes a new layer and publisher
    await database_sync_to_async(publish)(stream="demo.9", event="n", html="<p>2</p>")
    assert (await communicator.receive_from(timeout=3)).endswith("<p>2</p>")
    await communicator.disconnect()


async def test_messages_waiting_for_a_viewer_go_out_in_one_frame_in_order():
    """A replay queues its events at once: the writer sends what waits in one frame, each
    message whole and in order (a busy server's viewers catch up the same way)."""
    for n in range(1, 4):
        await database_sync_to_async(publish)(stream="demo.10", event="n", html=f"<p>{n}</p>")
    communicator = _communicator("/ws/streams/?s=demo.10")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"type": "resume", "stream": "demo.10", "after": 0})
    frame = await communicator.receive_from(timeout=3)
    messages = messages_in(frame)
    assert [m.split("</span>", 1)[1] for m in messages] == ["<p>1</p>", "<p>2</p>", "<p>3</p>"]
    assert [m.count("data-moot-seq=") for m in messages] == [1, 1, 1]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
