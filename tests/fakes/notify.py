"""A local stand-in for GOV.UK Notify that speaks its HTTP API (v2 email and SMS notifications).

It checks the JWT the real client signs (issuer = service id, HS256 with the key's secret) and
records each accepted request, so tests exercise notifications-python-client for real.
"""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

SERVICE_ID = "4f2a6b1e-2a0c-4a39-9d7c-3c1f0a8b9e11"
SECRET = "7d3c2b1a-0f9e-4d8c-b7a6-958473625140"
API_KEY = f"moot_test-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = "0b6e2d4c-1111-4a2b-9c3d-5e6f7a8b9c0d"


class FakeNotify:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.paths: list[str] = []
        self.fail_next = 0
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeNotify":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                try:
                    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
                except jwt.PyJWTError as exc:
                    self._reply(403, {"errors": [{"error": "AuthError", "message": str(exc)}]})
                    return
                if claims.get("iss") != SERVICE_ID:
                    self._reply(403, {"errors": [{"error": "AuthError", "message": "iss"}]})
                    return
                if self.path not in ("/v2/notifications/email", "/v2/notifications/sms"):
                    self._reply(404, {"errors": [{"error": "NotFound"}]})
                    return
                if fake.fail_next:
                    fake.fail_next -= 1
                    self._reply(500, {"errors": [{"error": "Exception", "message": "down"}]})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                fake.sent.append(body)
                fake.paths.append(self.path)
                self._reply(201, {"id": str(uuid.uuid4()), "content": {}, "template": {}})

        return Handler
