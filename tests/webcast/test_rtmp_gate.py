"""The RTMP gate's reading of a client's connect command (the real pushes from a second ffmpeg
are in test_supervisor.py)."""

import socket
import struct

import pytest

from webcast.rtmp_gate import GateError, _Reader, connect_app, read_connect


def amf_string(text: str) -> bytes:
    data = text.encode()
    return b"\x02" + struct.pack(">H", len(data)) + data


def amf_object(values: dict) -> bytes:
    out = b"\x03"
    for key, value in values.items():
        out += struct.pack(">H", len(key)) + key.encode()
        if isinstance(value, bool):
            out += b"\x01" + bytes([value])
        elif isinstance(value, int | float):
            out += b"\x00" + struct.pack(">d", value)
        elif value is None:
            out += b"\x05"
        else:
            out += amf_string(value)
    return out + b"\x00\x00\x09"


def connect(app: str) -> bytes:
    return (
        amf_string("connect")
        + b"\x00" + struct.pack(">d", 1.0)
        + amf_object({"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible; "
                      "FMSc/1.0)", "tcUrl": f"rtmp://camera.local:1935/{app}" + "x" * 150,
                      "fpad": False, "capabilities": 15.0, "audioCodecs": 4071.0, "none": None})
    )  # fmt: skip


def chunks(payload: bytes, *, type_id: int = 20, csid: int = 3, size: int = 128,
           extended: bool = False) -> bytes:  # fmt: skip
    def basic(fmt: int) -> bytes:  # one byte, or two for chunk stream ids from 64
        return bytes([fmt << 6 | csid]) if csid < 64 else bytes([fmt << 6, csid - 64])

    timestamp = b"\xff\xff\xff" if extended else b"\x00\x00\x00"
    out = basic(0) + timestamp + len(payload).to_bytes(3, "big") + bytes([type_id])
    out += b"\x00\x00\x00\x00" + (b"\x00\x00\x00\x01" if extended else b"")
    for start in range(0, len(payload), size):
        if start:
            out += basic(3) + (b"\x00\x00\x00\x01" if extended else b"")
        out += payload[start : start + size]
    return out


def read(data: bytes) -> str:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(data)
        a.shutdown(socket.SHUT_WR)
        return read_connect(_Reader(b))


def test_connect_app():
    assert connect_app(connect("the-secret-key")) == "the-secret-key"
    with pytest.raises(GateError, match="not connect"):
        connect_app(amf_string("publish") + b"\x00" + bytes(8))
    with pytest.raises(GateError, match="names no application"):
        connect_app(amf_string("connect") + b"\x00" + bytes(8) + amf_object({"tcUrl": "x"}))
    with pytest.raises(GateError, match="cannot be read"):
        connect_app(connect("key")[:40])


def test_read_connect_over_several_chunks_as_encoders_send_it():
    payload = connect("the-secret-key")
    assert len(payload) > 2 * 128  # three chunks
    assert read(chunks(payload)) == "the-secret-key"
    assert read(chunks(payload, extended=True)) == "the-secret-key"
    assert read(chunks(payload, csid=70)) == "the-secret-key"  # a two-byte chunk header
    # A larger chunk size announced first; an AMF3 command (a format byte first).
    set_size = b"\x02" + bytes(3) + b"\x00\x00\x04\x01" + bytes(4) + (4096).to_bytes(4, "big")
    assert read(set_size + chunks(payload, size=4096)) == "the-secret-key"
    assert read(chunks(b"\x00" + payload, type_id=17)) == "the-secret-key"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "connection closed"),
        (chunks(connect("k"))[:100], "connection closed"),
        (bytes([0xC3]) + bytes(10), "continuation chunk with no message"),
        (b"\x03" + bytes(3) + (100_000).to_bytes(3, "big") + b"\x14" + bytes(4), "too long"),
        (b"\x02" + bytes(3) + b"\x00\x00\x04\x01" + bytes(4) + bytes(4), "chunk size out of"),
    ],
)
def test_what_is_not_a_connect_is_refused(data, message):
    with pytest.raises(GateError, match=message):
        read(data)
