"""The RTMP gate: encoders push to it, and only a push naming the meeting's secret key reaches
ffmpeg.

ffmpeg's RTMP listener only *warns* when a push names another application (the key) or stream,
and then takes it. So ffmpeg listens on a loopback port nobody else can reach, and the gate
listens on the meeting's public port. For each connection the gate does the RTMP handshake
itself, reads the client's ``connect`` command and compares its application with the key (in
constant time). A wrong key is refused and logged, and the connection closed before a byte of
it reaches ffmpeg, which goes on waiting for the real encoder undisturbed. The right key is let
through: the gate does the handshake with ffmpeg as a client, replays what the encoder sent
after its handshake (the ``connect`` command first) and relays both ways until either side
closes.

The handshake is RTMP's simple one (version bytes zero), as ffmpeg's own listener answers, which
OBS, hardware encoders and ffmpeg accept from a server.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

HANDSHAKE = 1536
DEFAULT_CHUNK = 128
MAX_BEFORE_CONNECT = 64 * 1024
CONNECT_TIMEOUT = 10.0
COMMAND_AMF0, COMMAND_AMF3, SET_CHUNK_SIZE = 20, 17, 1


class GateError(Exception):
    """The connection is not an RTMP push the gate can take."""


# --- AMF0 (just enough to read a ``connect`` command) ---------------------------------------------


def _amf0_value(data: bytes, at: int) -> tuple[object, int]:
    marker = data[at]
    at += 1
    if marker == 0x00:  # number
        return struct.unpack_from(">d", data, at)[0], at + 8
    if marker == 0x01:  # boolean
        return bool(data[at]), at + 1
    if marker == 0x02:  # string
        (length,) = struct.unpack_from(">H", data, at)
        return data[at + 2 : at + 2 + length].decode("utf-8", "replace"), at + 2 + length
    if marker == 0x0C:  # long string
        (length,) = struct.unpack_from(">I", data, at)
        return data[at + 4 : at + 4 + length].decode("utf-8", "replace"), at + 4 + length
    if marker in {0x05, 0x06}:  # null, undefined
        return None, at
    if marker in {0x03, 0x08}:  # object, ECMA array (a count, then as an object)
        if marker == 0x08:
            at += 4
        values: dict[str, object] = {}
        while True:
            (length,) = struct.unpack_from(">H", data, at)
            at += 2
            if length == 0 and data[at] == 0x09:
                return values, at + 1
            key = data[at : at + length].decode("utf-8", "replace")
            values[key], at = _amf0_value(data, at + length)
    raise GateError(f"AMF0 type {marker} is not expected in a connect command")


def connect_app(payload: bytes) -> str:
    """The application a ``connect`` command (AMF0) names."""
    try:
        name, at = _amf0_value(payload, 0)
        if name != "connect":
            raise GateError(f"the first command is {name!r}, not connect")
        _transaction, at = _amf0_value(payload, at)
        properties, _at = _amf0_value(payload, at)
    except (IndexError, struct.error) as exc:
        raise GateError("the connect command cannot be read") from exc
    if not isinstance(properties, dict) or not isinstance(properties.get("app"), str):
        raise GateError("the connect command names no application")
    return properties["app"]


# --- reading the client's chunk stream up to its connect command -------------------------------


@dataclass
class _Message:
    length: int = 0
    type_id: int = 0
    extended: bool = False
    payload: bytes = b""


class _Reader:
    """Bytes from a socket, remembering everything read after the handshake (to replay)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.kept = bytearray()

    def exact(self, count: int, *, keep: bool = True) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise GateError("the connection closed")
            data += chunk
        if keep:
            self.kept += data
            if len(self.kept) > MAX_BEFORE_CONNECT:
                raise GateError("no connect command in the first 64 KB")
        return bytes(data)


def read_connect(reader: _Reader) -> str:
    """Read chunks until a whole command message has arrived; return the app it connects to."""
    chunk_size = DEFAULT_CHUNK
    streams: dict[int, _Message] = {}
    while True:
        first = reader.exact(1)[0]
        fmt, csid = first >> 6, first & 0x3F
        if csid == 0:
            csid = 64 + reader.exact(1)[0]
        elif csid == 1:
            low, high = reader.exact(2)
            csid = 64 + low + high * 256
        message = streams.setdefault(csid, _Message())
        if fmt == 3 and not message.length:
            raise GateError("a continuation chunk with no message before it")
        if fmt in {0, 1, 2}:
            header = reader.exact({0: 11, 1: 7, 2: 3}[fmt])
            timestamp = int.from_bytes(header[0:3], "big")
            if fmt in {0, 1}:
                message.length = int.from_bytes(header[3:6], "big")
                message.type_id = header[6]
            message.extended = timestamp == 0xFFFFFF
            message.payload = b""
        if message.extended:
            reader.exact(4)
        if message.length > MAX_BEFORE_CONNECT:
            raise GateError("a message too long to be a connect command")
        take = min(chunk_size, message.length - len(message.payload))
        message.payload += reader.exact(take)
        if len(message.payload) < message.length:
            continue
        payload, message.payload = message.payload, b""
        if message.type_id == SET_CHUNK_SIZE:
            chunk_size = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if not 1 <= chunk_size <= 0xFFFFFF:
                raise GateError("a chunk size out of range")
        elif message.type_id == COMMAND_AMF3:
            return connect_app(payload[1:])  # AMF3 commands start with a 0 format byte
        elif message.type_id == COMMAND_AMF0:
            return connect_app(payload)
        # Anything else before connect (an acknowledgement size) is passed on as it came.


# --- handshakes ---------------------------------------------------------------------------------


def _s1() -> bytes:
    return (
        struct.pack(">I", int(time.monotonic() * 1000) & 0xFFFFFFFF)
        + bytes(4)
        + os.urandom(HANDSHAKE - 8)
    )


def handshake_as_server(reader: _Reader) -> None:
    c0c1 = reader.exact(1 + HANDSHAKE, keep=False)
    if c0c1[0] != 3:
        raise GateError(f"RTMP version {c0c1[0]} (not 3): not an RTMP push")
    reader.sock.sendall(b"\x03" + _s1() + c0c1[1:])  # S0, S1, S2 (the client's C1 echoed)
    reader.exact(HANDSHAKE, keep=False)  # C2


def handshake_as_client(sock: socket.socket) -> None:
    sock.sendall(b"\x03" + _s1())  # C0, C1
    reader = _Reader(sock)
    s0s1 = reader.exact(1 + HANDSHAKE, keep=False)
    reader.exact(HANDSHAKE, keep=False)  # S2
    sock.sendall(s0s1[1:])  # C2: S1 echoed


# --- the gate -----------------------------------------------------------------------------------


def _relay(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class RtmpGate:
    """Listens on ``(host, port)``; lets a push whose application equals ``key()`` through to
    ffmpeg on ``127.0.0.1:upstream_port()``; calls ``refused(address)`` for a wrong key."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        key: Callable[[], str],
        upstream_port: Callable[[], int | None],
        refused: Callable[[str], None],
        label: str = "",
    ) -> None:
        self.key, self.upstream_port, self.refused, self.label = key, upstream_port, refused, label
        self.server = socket.create_server((host, port), backlog=8)
        self.server.settimeout(0.5)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f"rtmp-gate {label}")

    def start(self) -> RtmpGate:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.server.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, address = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client, address[0]), daemon=True).start()

    def _handle(self, client: socket.socket, address: str) -> None:
        upstream = None
        try:
            client.settimeout(CONNECT_TIMEOUT)
            reader = _Reader(client)
            handshake_as_server(reader)
            app = read_connect(reader).strip("/")
            if not hmac.compare_digest(app.encode(), self.key().encode()):
                logger.warning(
                    "%s: a push with a wrong stream key from %s was refused", self.label, address
                )
                self.refused(address)
                client.close()
                return
            upstream = self._upstream()
            handshake_as_client(upstream)
            upstream.sendall(reader.kept)
            client.settimeout(None)
            upstream.settimeout(None)
        except (GateError, OSError) as exc:
            logger.info("%s: RTMP connection from %s dropped: %s", self.label, address, exc)
            client.close()
            if upstream is not None:
                upstream.close()
            return
        back = threading.Thread(target=_relay, args=(upstream, client), daemon=True)
        back.start()
        _relay(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def _upstream(self) -> socket.socket:
        """ffmpeg's listener; between two runs it may be a moment before it listens again."""
        deadline = time.monotonic() + 5
        while True:
            port = self.upstream_port()
            if port:
                try:
                    return socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise GateError("ffmpeg is not listening")
            time.sleep(0.2)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
