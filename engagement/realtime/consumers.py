"""The websocket side of streams: authenticate, join the groups the registry allows, deliver.

Protocol (what ``static/moot/live.js`` speaks, over the htmx ws extension):

* connect to ``/ws/streams/?s=<stream>&s=<stream>&lang=<language>``; a stream the user may not
  watch closes the socket with code 4403 (nothing is joined); ``lang`` (one of
  ``settings.LANGUAGES``, the page's own; the default language if missing or unknown) is the
  language of every message, live or replayed;
* the client sends ``{"type": "resume", "stream": "<stream>", "after": <last seq seen>}`` for each
  stream; the server replies with every stored event after that number, in order, then live;
* every message is an HTML fragment for htmx: a hidden ``<span id="moot-seq-...">`` carrying the
  stream and sequence number (swapped out of band) followed by the event's own fragment; a
  viewer that has fallen behind gets the messages waiting for it in one websocket frame, one
  after the other (each starts with its marker; ``live.js`` splits them);
* if a client is more than ``BACKFILL_LIMIT`` events behind, or events it missed have been
  pruned, it is told to reload the page;
* a client that sees a gap in the numbers (a message lost on the way, or overtaken by a later
  one and not arrived a moment after) sends ``resume`` again on the same connection: a stream
  is replayed at most ``MAX_REPLAYS`` times per connection, one replay at a time.
"""

import asyncio
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .hub import hub, render_message, seq_marker_id
from .selectors import BACKFILL_LIMIT, events_after
from .streams import may_watch
from .wire import Wire

__all__ = ["StreamConsumer", "render_message", "seq_marker_id"]

MAX_STREAMS = 8
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
CLOSE_TOO_SLOW = 4408
MAX_REPLAYS = 20
"""Replays of one stream per connection (each reads the database); past this, reconnecting
starts afresh."""
OUTBOX_LIMIT = 1000
"""Messages waiting for a client that stopped reading; past this it is disconnected (and
catches up by sequence number when it reconnects) rather than held in the server's memory."""
BATCH_LIMIT = 64 * 1024
"""At most this many characters of waiting messages go in one frame."""
RELOAD = '<div id="moot-live-reload" data-moot-reload="true"></div>'


def viewer_language(asked: str) -> str:
    """``asked`` if it is a configured language (any case), else the default language."""
    asked = asked.lower()
    if any(asked == code for code, _name in settings.LANGUAGES):
        return asked
    return settings.LANGUAGE_CODE


class Outbox:
    """A viewer's messages waiting for its writer, in order: a deque and at most one waiting
    future, used like an ``asyncio.Queue`` but cheaper per message (this is the path every
    event takes to every viewer)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def put(self, text: str) -> None:
        self.items.append(text)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> str:
        """The next message, joined with those queued behind it (up to ``BATCH_LIMIT``): when
        the server is busy, a frame carries several messages instead of one frame each, so
        falling behind costs fewer writes and the viewer catches up."""
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        items = self.items
        text = items.popleft()
        if not items:
            return text
        parts, size = [text], len(text)
        while items and size + len(items[0]) <= BATCH_LIMIT:
            size += len(items[0])
            parts.append(items.popleft())
        return "".join(parts)


class StreamConsumer(AsyncJsonWebsocketConsumer):
    """One viewer. Live events come from the process's :func:`engagement.realtime.hub.hub`
    (one channel-layer subscription per stream per process), not from a channel of its own."""

    channel_layer_alias = None  # type: ignore[assignment]
    streams: list[str]
    language: str

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("ascii", "replace"))
        streams = list(dict.fromkeys(query.get("s", [])))
        if not streams or len(streams) > MAX_STREAMS:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        user = self.scope.get("user")
        allowed = await database_sync_to_async(self._allowed)(user, streams)
        if not allowed:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.streams = streams
        self.language = viewer_language(query.get("lang", [""])[-1])
        self.replays: dict[str, int] = {}
        # Streams being replayed: their live events wait here until the replay is queued.
        self.holding: dict[str, list[tuple[int, str, bytes | None]]] = {}
        self.outbox = Outbox()
        # The server's send (see engagement.asgi.DirectSend), else the consumer's own.
        self.send_direct = self.scope.get("moot.send") or self.base_send
        self.overflowed = False
        self.sending = False
        self.wire: Wire | None = None
        for stream in streams:
            await hub().join(stream, self)
        await self.accept()
        # After the handshake: whether frames may be written as they are depends on it.
        self.wire = Wire.of(self.send_direct)
        self.writer = asyncio.create_task(self._write())

    @staticmethod
    def _allowed(user: Any, streams: list[str]) -> bool:
        return all(may_watch(user, stream) for stream in streams)

    async def disconnect(self, code: int) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.cancel()
        for stream in getattr(self, "streams", []):
            await hub().leave(stream, self)

    def deliver(self, stream: str, seq: int, text: str, frame: bytes | None = None) -> None:
        """A live event from the hub, in order (called on the event loop, never blocks).

        ``frame``: the same message as a ready websocket frame, shared by every viewer of this
        language. It is written at once when nothing is waiting to go before it (the outbox is
        empty and the writer is not sending) and the wire takes it (see
        :mod:`engagement.realtime.wire`); otherwise the message joins the outbox."""
        held = self.holding.get(stream)
        if held is not None:
            held.append((seq, text, frame))
        elif (
            frame is not None
            and self.wire is not None
            and not self.outbox
            and not self.sending
            and self.wire.write(frame)
        ):
            return
        elif len(self.outbox) < OUTBOX_LIMIT:
            self.outbox.put(text)
        elif not self.overflowed:
            self.overflowed = True
            asyncio.get_running_loop().create_task(self.close(code=CLOSE_TOO_SLOW))

    async def _write(self) -> None:
        """Send the outbox in order: the only writer of messages after the handshake, apart
        from :meth:`deliver`'s direct writes, which it never overtakes (they happen only while
        it has nothing in hand)."""
        while True:
            text = await self.outbox.get()
            if self.overflowed:
                return
            self.sending = True
            try:
                await self.send_direct({"type": "websocket.send", "text": text})
            except Exception:  # noqa: BLE001 - the client is gone; disconnect() cleans up
                return
            finally:
                self.sending = False

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:  # not JSON: ignore it rather than drop the connection
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "resume":
            return
        stream = content.get("stream")
        after = content.get("after")
        if stream not in getattr(self, "streams", []):
            return
        if stream in self.holding or self.replays.get(stream, 0) >= MAX_REPLAYS:
            return  # a replay of it is under way, or this connection has had its share
        try:
            after_seq = max(0, int(after))
        except (TypeError, ValueError, OverflowError):
            return
        self.replays[stream] = self.replays.get(stream, 0) + 1
        self.holding[stream] = []
        last = after_seq
        try:
            events = await database_sync_to_async(events_after)(stream, after_seq)
            missing_some = bool(events) and events[0].seq != after_seq + 1  # pruned meanwhile
            if len(events) > BACKFILL_LIMIT or missing_some:
                self.outbox.put(RELOAD)
                return
            for record in events:
                self.outbox.put(
                    render_message(record.stream, record.seq, record.html_in(self.language))
                )
                last = record.seq
        finally:
            # Live events that arrived during the replay, less those it already carried.
            for seq, text, frame in self.holding.pop(stream, []):
                if seq > last:
                    self.deliver(stream, seq, text, frame)
