"""The ws_fanout bench's viewer client (:class:`bench.ws_fanout.ViewerConnection`) against the
frames a real server writes: the ``websockets`` sans-I/O ``ServerProtocol``, fed through the
client's ``data_received`` in reads of every size."""

import json

import pytest
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from bench import ws_fanout
from bench.ws_fanout import FeedReader, View, ViewerConnection

URL = "ws://127.0.0.1:8000/ws/streams/?s=questions.7"
ORIGIN = "http://127.0.0.1:8000"


def feed_message(*seqs: int, body: str = "Heol y Parc — 120 homes") -> str:
    """One websocket message of the feed: each message starts with its marker."""
    return "".join(
        f'<span hidden id="moot-seq-questions-7" data-moot-stream="questions.7" '
        f'data-moot-seq="{seq}" hx-swap-oob="true"></span><li id="q{seq}">{body}</li>'
        for seq in seqs
    )


class Transport:
    """What the client writes, and whether it closed or aborted."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.ended = ""

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return bool(self.ended)

    def close(self) -> None:
        self.ended = self.ended or "closed"

    def abort(self) -> None:
        self.ended = self.ended or "aborted"

    def take(self) -> bytes:
        data, self.written = bytes(self.written), bytearray()
        return data


class Pair:
    """A client connection and a sans-I/O server, handshake done."""

    def __init__(self, *, deflate: bool = False) -> None:
        self.view = View(last=3)
        self.reader = FeedReader()
        self.errors, self.texts = self.reader.errors, self.reader.texts
        self.client = ViewerConnection(self.view, URL, ORIGIN, self.reader)
        self.transport = Transport()
        self.server = ServerProtocol(
            extensions=[ServerPerMessageDeflateFactory()] if deflate else None
        )
        self.client.connection_made(self.transport)  # type: ignore[arg-type]
        self.server.receive_data(self.transport.take())
        [request] = self.server.events_received()
        assert request.headers["Origin"] == ORIGIN
        assert request.path == "/ws/streams/?s=questions.7"
        self.server.send_response(self.server.accept(request))
        self.client.data_received(self.server_bytes())

    def server_bytes(self) -> bytes:
        return b"".join(self.server.data_to_send())

    def deliver(self, data: bytes, size: int, clock: list[float]) -> None:
        """``data`` in reads of ``size`` bytes, the clock ticking one second a read."""
        for at in range(0, len(data), size):
            clock[0] += 1.0
            self.client.data_received(data[at : at + size])

    def client_frames(self) -> list[Frame]:
        self.server.receive_data(self.transport.take())
        return [e for e in self.server.events_received() if isinstance(e, Frame)]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(ws_fanout.time, "time", lambda: now[0])
    return now


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("deflate", [False, True])
async def test_every_message_is_recorded_however_the_reads_split_it(
    size: int, deflate: bool, clock: list[float]
) -> None:
    pair = Pair(deflate=deflate)
    long = "x" * 70_000  # past 65,535 bytes: the 8-byte length
    pair.server.send_text(feed_message(4).encode())
    pair.server.send_text(feed_message(5, 6, 7).encode())  # a batch: three in one frame
    pair.server.send_text(feed_message(8, body="Ffordd yr Eglwys " * 20).encode())  # 2-byte length
    pair.server.send_text(feed_message(9, body=long).encode())
    pair.server.send_text(feed_message(10)[:50].encode(), fin=False)  # one message in fragments,
    pair.server.send_ping(b"are you there")  # a ping between them,
    pair.server.send_continuation(feed_message(10)[50:100].encode(), fin=False)
    pair.server.send_continuation(feed_message(10, 11)[100:].encode(), fin=True)
    data = pair.server_bytes()
    pair.deliver(data, size, clock)

    assert data[0] == (0xC1 if deflate else 0x81)  # compressed when negotiated
    assert pair.errors == {}
    assert pair.transport.ended == ""
    assert pair.view.opened == [1000.0]
    assert list(pair.view.seqs) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert list(pair.view.session) == [0] * 8
    assert pair.view.last == 11
    assert pair.texts[6] == feed_message(6)
    assert pair.texts[9] == feed_message(9, body=long)
    assert pair.texts[11] == feed_message(11)
    # Each message gets the time of the read that completed it; a batch's share one.
    assert pair.view.times[1] == pair.view.times[2] == pair.view.times[3]
    assert pair.view.times[-1] == 1000.0 + -(-len(data) // size)  # the last read
    [pong] = pair.client_frames()
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"are you there")


async def test_resume_is_a_masked_text_frame() -> None:
    pair = Pair()
    pair.client.send_text(json.dumps({"type": "resume", "stream": "questions.7", "after": 3}))
    data = pair.transport.written
    assert data[1] & 0x80  # masked
    [frame] = pair.client_frames()  # the server refuses unmasked client frames
    assert (frame.opcode, json.loads(frame.data)) == (
        Opcode.TEXT,
        {"type": "resume", "stream": "questions.7", "after": 3},
    )


async def test_a_message_without_a_sequence_number_is_an_error() -> None:
    pair = Pair()
    pair.server.send_text(b"<li>no marker</li>")
    pair.server.send_text(b'<span hidden id="moot-seq-questions-7">no number</span>')
    pair.server.send_text(feed_message(4).encode())
    pair.client.data_received(pair.server_bytes())
    assert pair.errors == {"message without a sequence number": 2}
    assert list(pair.view.seqs) == [4]


@pytest.mark.parametrize(
    "frame",
    [
        b"\x81\x85abcd" + b"hello",  # masked
        b"\x82\x02hi",  # binary
        b"\xc1\x02hi",  # compressed, though deflate was not negotiated
        b"\x80\x02hi",  # a continuation outside a message
    ],
)
async def test_a_protocol_error_drops_the_connection(frame: bytes) -> None:
    pair = Pair()
    pair.client.data_received(pair.server_bytes() + frame)
    pair.client.connection_lost(None)
    assert pair.transport.ended == "aborted"
    assert pair.client.closed.result().startswith("protocol: ProtocolError: ")


async def test_the_server_closing_is_answered_and_reported() -> None:
    pair = Pair()
    pair.server.send_close(1001, "going away")
    pair.client.data_received(pair.server_bytes())
    [close] = pair.client_frames()
    assert (close.opcode, close.data[:2]) == (Opcode.CLOSE, (1001).to_bytes(2, "big"))
    pair.client.connection_lost(None)
    assert pair.transport.ended == "closed"
    assert pair.client.closed.result() == "closed: 1001 going away"


async def test_the_client_closing_waits_for_the_server() -> None:
    pair = Pair()
    pair.client.close()
    [close] = pair.client_frames()
    assert (close.opcode, close.data) == (Opcode.CLOSE, (1000).to_bytes(2, "big"))
    pair.client.data_received(pair.server_bytes())  # the server's answer
    assert pair.transport.ended == "closed"


async def test_a_refused_handshake_fails_the_connection() -> None:
    client = ViewerConnection(View(), URL, ORIGIN, FeedReader())
    transport = Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    client.data_received(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert transport.ended == "aborted"
    with pytest.raises(ConnectionError, match="handshake: HTTP/1.1 403 Forbidden"):
        await client.handshake


def test_a_message_seen_before_is_only_compared() -> None:
    reader = FeedReader()
    five_six, five_seven = feed_message(5, 6).encode(), feed_message(5, 7).encode()
    assert len(five_six) == len(five_seven)  # the same first number and length: the same key
    assert reader.numbers(b"xx" + five_six, 2, 2 + len(five_six)) == (5, 6)
    assert reader.numbers(five_seven + b"yy", 0, len(five_seven)) == (5, 7)
    assert reader.numbers(five_six, 0, len(five_six)) == (5, 6)  # remembered
    assert reader.numbers(five_seven, 0, len(five_seven)) == (5, 7)
    assert len(reader.known) == 1  # the last one parsed
    broken = b'<span hidden id="moot-seq-questions-7"></span>'  # a marker with no number
    for _ in range(2):  # never remembered: counted each time
        assert reader.numbers(broken + five_six, 0, len(broken) + len(five_six)) == (5, 6)
    assert reader.errors == {"message without a sequence number": 2}
