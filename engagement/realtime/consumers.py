"""The websocket side of streams: authenticate, join the groups the registry allows, deliver.

Protocol (what ``static/moot/live.js`` speaks, over the htmx ws extension):

* connect to ``/ws/streams/?s=<stream>&s=<stream>``; a stream the user may not watch closes
  the socket with code 4403 (nothing is joined);
* the client sends ``{"type": "resume", "stream": "<stream>", "after": <last seq seen>}`` for each
  stream; the server replies with every stored event after that number, in order, then live;
* every message is an HTML fragment for htmx: a hidden ``<span id="moot-seq-...">`` carrying the
  stream and sequence number (swapped out of band) followed by the event's own fragment;
* if a client is more than ``BACKFILL_LIMIT`` events behind, or events it missed have been
  pruned, it is told to reload the page; a stream is replayed once per connection.
"""

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.html import escape

from .selectors import BACKFILL_LIMIT, events_after
from .services import message_for
from .streams import group_name, may_watch

MAX_STREAMS = 8
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
RELOAD = '<div id="moot-live-reload" data-moot-reload="true"></div>'


def seq_marker_id(stream: str) -> str:
    return "moot-seq-" + stream.replace(".", "-")


def render_message(stream: str, seq: int, html: str) -> str:
    marker = (
        f'<span hidden id="{seq_marker_id(stream)}" data-moot-stream="{escape(stream)}" '
        f'data-moot-seq="{seq}" hx-swap-oob="true"></span>'
    )
    return marker + html


class StreamConsumer(AsyncJsonWebsocketConsumer):
    streams: list[str]

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
        self.resumed: set[str] = set()
        for stream in streams:
            await self.channel_layer.group_add(group_name(stream), self.channel_name)
        await self.accept()

    @staticmethod
    def _allowed(user: Any, streams: list[str]) -> bool:
        return all(may_watch(user, stream) for stream in streams)

    async def disconnect(self, code: int) -> None:
        for stream in getattr(self, "streams", []):
            await self.channel_layer.group_discard(group_name(stream), self.channel_name)

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
        if stream in self.resumed:
            return  # one replay per stream per connection; after that, live messages only
        try:
            after_seq = max(0, int(after))
        except (TypeError, ValueError, OverflowError):
            return
        self.resumed.add(stream)
        events = await database_sync_to_async(events_after)(stream, after_seq)
        missing_some = bool(events) and events[0].seq != after_seq + 1  # pruned meanwhile
        if len(events) > BACKFILL_LIMIT or missing_some:
            await self.send(text_data=RELOAD)
            return
        for record in events:
            await self.stream_event(message_for(record))

    async def stream_event(self, message: dict[str, Any]) -> None:
        await self.send(
            text_data=render_message(message["stream"], message["seq"], message["html"])
        )
