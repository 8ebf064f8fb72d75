"""A minimal HTTP/1.1 client for load that must cost the machine little: plain http only.

The load generator shares the cores with the server it measures, so every millisecond of CPU it
spends per request is taken from the server. httpx costs about 5 ms a form POST (building the
request, its connection pool, header models); this client sends bytes built before the timing
starts (:func:`request`) over one keep-alive :class:`Connection` per simulated client and parses
only the status line and headers, for well under a millisecond.

What it understands of HTTP/1.1: a ``Content-Length`` body, a chunked body, a body read to the
end of the connection when the response has neither, no body for 1xx, 204 and 304, and the end
of a connection (``Connection: close``, or the server closing an idle one, after which the request
is sent again on a new connection). No TLS, no proxies, no redirects, no ``Expect: 100-continue``,
no decoding of the body (callers only look at the status and headers).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench import _load

USER_AGENT = "moot-bench"
TIMEOUT_S = 30.0
_HEAD_END = b"\r\n\r\n"
_CRLF = b"\r\n"


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


class ClosedBeforeResponse(ConnectionError):
    """The server closed the connection before sending any of the response."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Names in lower case; a repeated header's values joined with ``", "``."""
    body: bytes


def request(
    method: str, path: str, *, host: str, headers: Mapping[str, str], body: bytes = b""
) -> bytes:
    """The bytes of one request, to send as many times as wanted.

    Besides ``headers``, the ones httpx would send (``Host``, ``Accept``, ``Accept-Encoding``,
    ``Connection: keep-alive``, ``User-Agent``) and, with a body, ``Content-Length``."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Accept: */*",
        "Accept-Encoding: gzip, deflate",
        "Connection: keep-alive",
        f"User-Agent: {USER_AGENT}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode("latin-1") + _HEAD_END + body


class Connection:
    """One keep-alive connection to ``host:port``, opened when first used and again whenever the
    server has closed it. Not shared: one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def authority(self) -> str:
        """What the ``Host`` header of a request on this connection says."""
        return f"{self.host}:{self.port}"

    async def send(self, request: bytes) -> Response:
        """Send ``request`` (from :func:`request`) and read the whole response.

        A reused connection the server closed while it was idle (uvicorn does after its
        keep-alive timeout) fails before any of the response arrives: the request is then sent
        once more on a new connection, as browsers do, since the server never saw it."""
        async with asyncio.timeout(TIMEOUT_S):
            if self._writer is not None:
                try:
                    return await self._exchange(request)
                except (ClosedBeforeResponse, ConnectionResetError, BrokenPipeError):
                    pass  # _exchange has dropped the stale connection
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(request)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            # A server that reset the connection first has closed it all the same.
            with suppress(OSError):
                await writer.wait_closed()

    async def _exchange(self, request: bytes) -> Response:
        """One request and its response on the open connection, which is closed after a failure
        (half a response may still be on the way) or when the server will not keep it."""
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise ConnectionError("not connected")
        try:
            writer.write(request)
            await writer.drain()
            try:
                head = await reader.readuntil(_HEAD_END)
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise ClosedBeforeResponse from exc
                raise
            status, headers = parse_head(head)
            body, keep_alive = await read_body(reader, status, headers)
        except BaseException:
            await self.close()
            raise
        if not keep_alive:
            await self.close()
        return Response(status, headers, body)


@asynccontextmanager
async def connections(base_url: str, n: int) -> AsyncIterator[list[Connection]]:
    """``n`` connections to the server at ``base_url`` (``http://host:port``), each opened when
    first used; all closed on the way out."""
    url = urlsplit(base_url)
    if url.scheme != "http" or url.hostname is None or url.port is None:
        raise ValueError(f"not http://host:port: {base_url!r}")
    pool = [Connection(url.hostname, url.port) for _ in range(n)]
    try:
        yield pool
    finally:
        await asyncio.gather(*(connection.close() for connection in pool))


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers of a response head (the status line to the blank line)."""
    status_line, *lines = head[: -len(_HEAD_END)].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"not a header line: {line!r}")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(rest[:3]), headers


async def read_body(
    reader: asyncio.StreamReader, status: int, headers: dict[str, str]
) -> tuple[bytes, bool]:
    """The body after a response head, and whether the connection may carry another request."""
    keep_alive = "close" not in headers.get("connection", "").lower()
    if status < 200 or status in (204, 304):
        return b"", keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await read_chunked(reader), keep_alive
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError as exc:
            raise ProtocolError(f"not a length: {headers['content-length']!r}") from exc
        return await reader.readexactly(length), keep_alive
    # Neither: the body runs to the end of the connection.
    return await reader.read(), False


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size_line = await reader.readuntil(_CRLF)
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError as exc:
            raise ProtocolError(f"not a chunk size: {size_line!r}") from exc
        if size == 0:
            break
        chunks.append((await reader.readexactly(size + len(_CRLF)))[: -len(_CRLF)])
    while await reader.readuntil(_CRLF) != _CRLF:
        pass  # trailer fields, up to the blank line
    return b"".join(chunks)


async def fetch(connection: Connection, request: bytes) -> _load.Sample:
    """One request as a :class:`bench._load.Sample`, like :func:`bench._load.fetch`: the status,
    the ``Server-Timing`` app time, the latency seen here and a redirect's ``Location``;
    a transport or protocol failure is status 0 with the error's name."""
    start = time.perf_counter()
    try:
        response = await connection.send(request)
    except (OSError, EOFError, asyncio.LimitOverrunError, ProtocolError) as exc:
        client_ms = (time.perf_counter() - start) * 1000
        return _load.Sample(status=0, server_ms=None, client_ms=client_ms, error=type(exc).__name__)
    client_ms = (time.perf_counter() - start) * 1000
    return _load.Sample(
        status=response.status,
        server_ms=_load.server_time(response.headers.get("server-timing", "")),
        client_ms=client_ms,
        location=response.headers.get("location", ""),
    )
