"""The process's hub: one channel-layer subscription per stream, however many viewers."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from engagement.realtime import streams
from engagement.realtime.consumers import StreamConsumer
from engagement.realtime.hub import hub, render_message
from engagement.realtime.services import publish

from .frames import receive_messages

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _test_streams():
    streams.register("demo", can_watch=streams.public)


def _communicator(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(StreamConsumer.as_asgi(), path)
    communicator.scope["user"] = AnonymousUser()
    return communicator


async def test_viewers_of_a_stream_share_one_subscription_that_ends_with_the_last():
    first, second = _communicator("/ws/streams/?s=demo.21"), _communicator("/ws/streams/?s=demo.21")
    assert (await first.connect())[0]
    assert (await second.connect())[0]
    feed = hub().feeds["demo.21"]
    assert len(feed.viewers) == 2

    await database_sync_to_async(publish)(stream="demo.21", event="n", html="<p>both</p>")
    assert (await first.receive_from(timeout=3)).endswith("<p>both</p>")
    assert (await second.receive_from(timeout=3)).endswith("<p>both</p>")

    await first.disconnect()
    assert hub().feeds["demo.21"] is feed
    await second.disconnect()
    assert "demo.21" not in hub().feeds
    assert feed.reader is not None
    assert feed.reader.cancelled()


async def test_live_events_that_arrive_during_a_replay_follow_it_once_each():
    for n in (1, 2):
        await database_sync_to_async(publish)(stream="demo.22", event="n", html=f"<p>{n}</p>")
    communicator = _communicator("/ws/streams/?s=demo.22")
    assert (await communicator.connect())[0]
    (consumer,) = hub().feeds["demo.22"].viewers

    class LiveDuringReplay(dict):
        """As if events 2 (which the replay also carries) and 3 arrived live while the replay
        was being read: they are what the stream's holding list has when the replay ends."""

        def __setitem__(self, stream, held):
            super().__setitem__(
                stream,
                [
                    (2, render_message(stream, 2, "live 2"), None),
                    (3, render_message(stream, 3, "live 3"), None),
                ],
            )

    consumer.holding = LiveDuringReplay()
    await communicator.send_json_to({"type": "resume", "stream": "demo.22", "after": 0})
    received = await receive_messages(communicator, 3)
    assert [m.rsplit("</span>", 1)[-1] for m in received] == ["<p>1</p>", "<p>2</p>", "live 3"]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
