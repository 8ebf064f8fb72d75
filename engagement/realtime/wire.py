"""One websocket frame per event, written to every viewer as it is.

Sending an event through ASGI (``{"type": "websocket.send", "text": ...}``) makes the server
encode the text to UTF-8 and build a frame around it for each viewer: for a vote-count snapshot
of 35 KB going to 5,000 viewers, 175 MB a second of encoding and copying, the same bytes every
time. A frame from the server is its payload behind a header of two to ten bytes (never masked,
RFC 6455 §5.1), so the hub builds it once per event and language (:func:`text_frame`) and
:class:`Wire` writes it to each viewer's transport.

Only where that is exactly what the server would have written: uvicorn's sans-I/O websocket
protocol (the production and bench server, ``--ws websockets-sansio``), the connection open, no
extension negotiated (permessage-deflate would compress each frame for its own connection), the
server not waiting for the client to read (its ``writable`` event is set) and less than
``BUFFER_LIMIT`` bytes waiting in the transport. Otherwise the message takes the ASGI path, which
waits for the client, so a slow reader is held back by the same flow control as before.
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn is a dependency; another server just never wins
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

BUFFER_LIMIT = 256 * 1024
"""Bytes waiting in a viewer's transport beyond which its messages queue instead."""


def text_frame(text: str) -> bytes:
    """A complete, unfragmented, unmasked text frame carrying ``text``."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload


class Wire:
    """A viewer's connection, written to directly (see the module's docstring)."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    @classmethod
    def of(cls, send: Any) -> Wire | None:
        """The wire behind the server's ``send`` (after the handshake), or None when frames
        cannot be written as they are."""
        protocol = getattr(send, "__self__", None)
        if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
            return None
        conn = protocol.conn
        if conn.state is not State.OPEN or conn.extensions:
            return None
        return cls(protocol)

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` now if nothing stands in the way; False (nothing written) if the
        message must take the ASGI path."""
        protocol = self.protocol
        if protocol.close_sent or protocol.disconnected or not protocol.writable.is_set():
            return False
        transport = protocol.transport
        if transport.is_closing() or transport.get_write_buffer_size() > BUFFER_LIMIT:
            return False
        transport.write(frame)
        return True
