"""Ready-made frames written straight to viewers (engagement.realtime.wire), behind uvicorn."""

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.sync.client import connect

from engagement.realtime import streams, wire
from engagement.realtime.hub import render_message
from engagement.realtime.services import publish

from .frames import messages_in


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70001])
def test_a_text_frame_is_what_a_websocket_client_reads(size):
    text = ("ŵ" * size)[:size]  # two bytes a character in UTF-8: lengths across the boundaries
    reader = StreamReader()
    reader.feed_data(wire.text_frame(text))
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode() == text


def test_no_wire_without_the_sans_io_server():
    async def send(message):
        return None

    assert wire.Wire.of(send) is None
    assert wire.Wire.of(None) is None


@pytest.fixture
def _demo_stream():
    streams.register("demo", can_watch=streams.public)


@pytest.mark.usefixtures("_demo_stream")
@pytest.mark.parametrize("direct", [True, False], ids=["written-directly", "through-asgi"])
def test_every_event_reaches_a_uvicorn_viewer_once_in_order(asgi_live_server, monkeypatch, direct):
    """With frames written straight to the transport, and with every message held back to the
    ASGI path (as for a client that has stopped reading), a viewer gets the same messages."""
    written = []
    real_write = wire.Wire.write

    def counting(self, frame):
        taken = real_write(self, frame)
        written.append(taken)
        return taken

    monkeypatch.setattr(wire.Wire, "write", counting)
    if not direct:
        monkeypatch.setattr(wire, "BUFFER_LIMIT", -1)
    url = asgi_live_server.url.replace("http://", "ws://") + "/ws/streams/?s=demo.7"
    with connect(url, origin=asgi_live_server.url, compression=None) as socket:
        # Live events only: a resume sent now could cross the first events and repeat them,
        # which the page's script drops by number, but this test counts every message.
        records = [
            publish(stream="demo.7", event="n", html=f"<p>event {n} ŵ</p>") for n in range(40)
        ]
        received = []
        while len(received) < len(records):
            received.extend(messages_in(socket.recv(timeout=10)))
    seqs = [int(m.split('data-moot-seq="')[1].split('"')[0]) for m in received]
    assert seqs == [r.seq for r in records]
    assert received == [render_message("demo.7", r.seq, r.html) for r in records]
    if direct:
        assert any(written), "no frame was written directly"
    else:
        assert written
        assert not any(written)
