"""Local stand-ins for the X API v2, Mastodon and Bluesky (atproto XRPC) that speak the subset
of each HTTP API our real clients call: tweepy, Mastodon.py and atproto talk to them unchanged,
with only the base URL setting pointing at ``FakeServer.url``.

They live in the package (not under ``tests/``) because the benchmark (``bench/run.py social``)
and the demo use them too. Each is a thread serving loopback HTTP; a test adds posts with
``add_post()``, queues failures with ``fail_next()`` (a status and headers, for 429 with and
without reset headers and storms of 5xx) or ``delay_next()`` (for timeouts), and reads what
the client sent in ``requests`` and ``replies``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]], body: Any, headers):
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.headers = headers

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name) or self.query.get(f"{name}[]")
        return values[0] if values else default

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {self.query}>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class FakeServer:
    """The shared machinery: a threaded loopback server, failure injection, a request log."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.replies: list[dict[str, Any]] = []
        self._failures: deque[Failure] = deque()
        self._delays: deque[float] = deque()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self, status: int, *, times: int = 1, headers: dict[str, str] | None = None, body=None
    ) -> None:
        with self.lock:
            for _ in range(times):
                self._failures.append(Failure(status, headers or {}, body))

    def delay_next(self, seconds: float) -> None:
        with self.lock:
            self._delays.append(seconds)

    def calls(self, path_part: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if path_part in r.path]

    # Subclasses answer (status, body, headers) for a request.
    def handle(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A response is written as headers, then body: with Nagle's algorithm on, the body
            # waits for the client's delayed ACK of the headers (40 ms on Linux) on every
            # keep-alive request, which no real API server adds.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw:
                    kind = self.headers.get("Content-Type", "")
                    if "json" in kind:
                        body = json.loads(raw)
                    else:
                        body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                request = Request(
                    self.command, parts.path, parse_qs(parts.query), body, dict(self.headers)
                )
                with fake.lock:
                    fake.requests.append(request)
                    failure = fake._failures.popleft() if fake._failures else None
                    delay = fake._delays.popleft() if fake._delays else 0.0
                if delay:
                    time.sleep(delay)
                if failure is not None:
                    payload = failure.body if failure.body is not None else {"error": "injected"}
                    self._reply(failure.status, payload, failure.headers)
                    return
                status, payload, headers = fake.handle(request)
                self._reply(status, payload, headers)

            def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = _serve
            do_POST = _serve

        return Handler


def page_newest_first(
    items: list[dict[str, Any]],
    *,
    key,
    since: int | None = None,
    until: int | None = None,
    limit: int,
) -> list[dict[str, Any]]:
    """Items with since < key < until, newest first, at most ``limit``."""
    chosen = [
        i for i in items if (since is None or key(i) > since) and (until is None or key(i) < until)
    ]
    chosen.sort(key=key, reverse=True)
    return chosen[:limit]
