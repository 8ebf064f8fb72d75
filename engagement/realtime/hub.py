"""One channel-layer subscription per stream per server process, shared by its viewers.

A viewer's websocket does not join the stream's channel-layer group itself: the process joins it
once, on behalf of every viewer of that stream it serves, reads each event once, renders the
message once, and hands it to each viewer's own queue (:meth:`Viewer.deliver`, synchronous).
The channel layer and Redis then carry one copy of an event per server process rather than one
per viewer, and the per-viewer work is a queue put and a websocket write, which is what lets
one process serve thousands of viewers (bench/README.md, ``ws_fanout``).

An event carries its fragment in each configured language (``services.publish`` renders it once
per language): the hub renders one message per language, once, and gives each viewer the one
in its own language (:attr:`Viewer.language`, from the page that opened the socket).

Ordering and catch-up are unchanged: each viewer writes its queue in order, and a viewer that is
replaying missed events holds the live ones back until the replay is queued (see
:class:`engagement.realtime.consumers.StreamConsumer`).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import get_channel_layer  # noqa: TID251

from .streams import group_name
from .wire import text_frame

logger = logging.getLogger(__name__)

RETRY_S = 1.0
"""After the channel layer failed to deliver (Redis went away), wait this long and read again."""
REJOIN_S = 3600.0
"""How often a feed renews its group membership: the Redis layer forgets members after its
``group_expiry`` (a day by default), and a feed some viewer always watches never joins anew."""


class Viewer(Protocol):
    language: str
    """One of ``settings.LANGUAGES``: the language of the messages it gets."""

    def deliver(self, stream: str, seq: int, text: str, frame: bytes | None = None) -> None: ...


def render_message(stream: str, seq: int, html: str) -> str:
    """The websocket message for an event: a hidden marker carrying the stream and sequence
    number (swapped out of band, read by ``live.js``), then the event's own fragment."""
    from django.utils.html import escape

    marker = (
        f'<span hidden id="{seq_marker_id(stream)}" data-moot-stream="{escape(stream)}" '
        f'data-moot-seq="{seq}" hx-swap-oob="true"></span>'
    )
    return marker + html


def seq_marker_id(stream: str) -> str:
    return "moot-seq-" + stream.replace(".", "-")


@dataclass(eq=False)
class _Feed:
    """A stream this process receives: its channel in the group, its reader, its viewers."""

    channel: str
    viewers: set[Viewer] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None


class Hub:
    """The feeds of one event loop (a server process has one; each test has its own)."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.feeds: dict[str, _Feed] = {}
        self.lock = asyncio.Lock()

    async def join(self, stream: str, viewer: Viewer) -> None:
        """From now on ``viewer`` gets every event published on ``stream`` (after this returns:
        the process is in the group by then)."""
        async with self.lock:
            feed = self.feeds.get(stream)
            if feed is None:
                channel = await self.layer.new_channel()
                await self.layer.group_add(group_name(stream), channel)
                feed = self.feeds[stream] = _Feed(channel=channel)
                feed.reader = asyncio.create_task(self._read(stream, feed))
            feed.viewers.add(viewer)

    async def leave(self, stream: str, viewer: Viewer) -> None:
        async with self.lock:
            feed = self.feeds.get(stream)
            if feed is None or viewer not in feed.viewers:
                return
            feed.viewers.discard(viewer)
            if feed.viewers:
                return
            del self.feeds[stream]
            if feed.reader is not None:
                feed.reader.cancel()
                with suppress(asyncio.CancelledError):
                    await feed.reader
            with suppress(Exception):  # the layer may be gone already (Redis down): nothing to undo
                await self.layer.group_discard(group_name(stream), feed.channel)

    async def _read(self, stream: str, feed: _Feed) -> None:
        rejoin = asyncio.get_running_loop().create_task(self._rejoin(stream, feed))
        try:
            await self._receive(stream, feed)
        finally:
            rejoin.cancel()

    async def _rejoin(self, stream: str, feed: _Feed) -> None:
        while True:
            await asyncio.sleep(REJOIN_S)
            try:
                await self.layer.group_add(group_name(stream), feed.channel)
            except Exception:
                logger.exception("Could not renew the group of stream %s", stream)

    async def _receive(self, stream: str, feed: _Feed) -> None:
        while True:
            try:
                message = await self.layer.receive(feed.channel)
                seq = int(message["seq"])
                text = render_message(message["stream"], seq, message["html"])
                frame = text_frame(text)
                texts = {
                    language: render_message(message["stream"], seq, html)
                    for language, html in message.get("html_translations", {}).items()
                }
                frames = {language: text_frame(other) for language, other in texts.items()}
            except asyncio.CancelledError:
                raise
            except Exception:
                # Viewers lose nothing for good: they catch up by sequence number on resume.
                logger.exception("Could not read stream %s from the channel layer", stream)
                await asyncio.sleep(RETRY_S)
                continue
            if not texts:  # the same in every language
                for viewer in list(feed.viewers):
                    viewer.deliver(stream, seq, text, frame)
                continue
            for viewer in list(feed.viewers):
                language = viewer.language
                viewer.deliver(stream, seq, texts.get(language, text), frames.get(language, frame))


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """The running event loop's hub (made on first use, with the default channel layer)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    layer = get_channel_layer()
    if found is None or (found.layer is not layer and not found.feeds):
        for closed in [other for other in _hubs if other.is_closed()]:
            del _hubs[closed]
        found = _hubs[loop] = Hub(layer)
    return found
