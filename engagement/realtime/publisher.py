"""Handing events to the channel layer from synchronous code (requests, Celery jobs, commands).

``async_to_sync(layer.group_send)`` called where no event loop runs (a Celery job, a management
command) starts a new event loop for the one call, and channels_redis, whose connections belong
to a loop, opens a new Redis connection for it and closes it after: a few milliseconds and a
TCP handshake for every event. Instead each process keeps one thread running one loop with a
channel layer of its own, and synchronous code hands it each message and waits until Redis has
it. Messages from one thread are sent in the order they are handed over (each waits for the
one before), so a stream's events leave in sequence order, as before.

The in-memory layer (development without Redis, some tests) belongs to the loop that reads it,
so it keeps ``async_to_sync``, which runs the send on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from typing import Any

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer  # noqa: TID251

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
"""How long a sender waits for Redis before giving up on one message (it is stored: clients
recover it by sequence number)."""


class _Publisher:
    """One loop in a daemon thread, with its own channel layer (and so its own Redis pool)."""

    def __init__(self, default: Any) -> None:
        self.pid = os.getpid()
        self.default = default
        self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._run, name="moot-realtime-publisher", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            # In this thread, where no other loop runs (channels_redis flushes its
            # connections when the loop closes).
            with suppress(Exception):
                self.loop.close()

    def close(self) -> None:
        """Close the layer's connections on the loop that made them, then the loop."""

        if not self.thread.is_alive() or self.loop.is_closed():
            return

        async def release() -> None:
            # Never RedisChannelLayer.flush(): it deletes every group and message under the
            # prefix, which the process's other layer (its viewers' groups) shares.
            close_pools = getattr(self.layer, "close_pools", None)
            with suppress(Exception):
                if close_pools is not None:
                    await close_pools()
                else:  # the pub/sub layer: its own subscriptions and connections only
                    await self.layer.flush()

        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(release(), self.loop).result(SEND_TIMEOUT_S)
        with suppress(RuntimeError):  # closed meanwhile
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(SEND_TIMEOUT_S)

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        future = asyncio.run_coroutine_threadsafe(self.layer.group_send(group, message), self.loop)
        try:
            future.result(SEND_TIMEOUT_S)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"The channel layer took over {SEND_TIMEOUT_S:.0f}s") from None


_lock = threading.Lock()
_publisher: _Publisher | None = None


def _current(default: Any) -> _Publisher:
    """This process's publisher for the current default layer (a new one after a fork, or when
    the settings changed the layer, as tests do)."""
    global _publisher
    found = _publisher
    if found is not None and found.pid == os.getpid() and found.default is default:
        return found
    with _lock:
        found = _publisher
        if found is None or found.pid != os.getpid() or found.default is not default:
            if found is not None and found.pid == os.getpid():
                found.close()
            found = _publisher = _Publisher(default)
    return found


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to the channel-layer ``group`` and return once the layer has it; a
    no-op when no layer is configured. Raises what the layer raised (Redis down, a timeout)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    _current(layer).group_send(group, message)
