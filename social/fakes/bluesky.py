"""A fake Bluesky PDS/AppView: sessions, mention notifications, post search and creating a reply
record, as the atproto ``Client`` calls them over XRPC (``com.atproto.server.createSession``,
``app.bsky.notification.listNotifications``, ``app.bsky.feed.searchPosts``,
``com.atproto.repo.createRecord``). Lists are newest first with an opaque ``cursor`` into the
past, as on the real service; the 429 reset header is ``ratelimit-reset`` (epoch seconds).
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from . import FakeServer, Request

HANDLE = "council.bsky.example"
PASSWORD = "fake-app-password"  # noqa: S105
COUNCIL_DID = "did:plc:council000000000000000000"


class FakeBluesky(FakeServer):
    def __init__(self, *, handle: str = HANDLE, password: str = PASSWORD) -> None:
        super().__init__()
        self.account_handle = handle
        self.password = password
        self.posts: list[dict[str, Any]] = []  # PostViews, oldest first
        self.notifications: list[dict[str, Any]] = []
        self.sessions: set[str] = set()
        self._seq = itertools.count(1)
        self._clock = datetime.now(UTC) - timedelta(hours=1)

    def _now(self) -> str:
        # Strictly increasing times, so indexedAt orders posts as the real service does.
        self._clock = max(self._clock + timedelta(milliseconds=1), datetime.now(UTC))
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add_post(
        self,
        text: str,
        *,
        author: str = "resident.bsky.example",
        mention: bool = True,
        reply_to: str | None = None,
    ) -> str:
        """Publish a post (returns its at:// URI); with ``mention`` the council is notified."""
        with self.lock:
            n = next(self._seq)
            did = f"did:plc:{author.split('.')[0][:20]:0<24}"
            uri = f"at://{did}/app.bsky.feed.post/3k{n:011d}"
            now = self._now()
            record: dict[str, Any] = {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": now,
            }
            if reply_to:
                parent = next(p for p in self.posts if p["uri"] == reply_to)
                root = parent["record"].get("reply", {}).get("root") or {
                    "uri": parent["uri"],
                    "cid": parent["cid"],
                }
                record["reply"] = {
                    "root": root,
                    "parent": {"uri": parent["uri"], "cid": parent["cid"]},
                }
            view = {
                "uri": uri,
                "cid": f"bafyreib{n:052d}",
                "author": {"did": did, "handle": author, "displayName": author.split(".")[0]},
                "record": record,
                "indexedAt": now,
            }
            self.posts.append(view)
            if mention:
                self.notifications.append(
                    {
                        "uri": uri,
                        "cid": view["cid"],
                        "author": view["author"],
                        "reason": "reply" if reply_to else "mention",
                        "record": record,
                        "isRead": False,
                        "indexedAt": now,
                    }
                )
        return uri

    def _token(self, scope: str) -> str:
        claims = {
            "scope": scope,
            "sub": COUNCIL_DID,
            "iat": int(time.time()),
            "exp": int(time.time()) + 3600,
        }
        return jwt.encode(claims, "fake-bluesky-signing-secret-of-32-bytes!", algorithm="HS256")

    def handle(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        nsid = request.path.removeprefix("/xrpc/")
        if nsid == "com.atproto.server.createSession":
            body = request.body or {}
            if (
                body.get("identifier") != self.account_handle
                or body.get("password") != self.password
            ):
                return 401, {"error": "AuthenticationRequired", "message": "Invalid password"}, {}
            access = self._token("com.atproto.access")
            with self.lock:
                self.sessions.add(access)
            return (
                200,
                {
                    "accessJwt": access,
                    "refreshJwt": self._token("com.atproto.refresh"),
                    "handle": self.account_handle,
                    "did": COUNCIL_DID,
                },
                {},
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.sessions:
            return 401, {"error": "AuthenticationRequired", "message": "Bad token"}, {}
        if nsid == "app.bsky.notification.listNotifications":
            return self._page(request, self.notifications, "notifications")
        if nsid == "app.bsky.feed.searchPosts":
            terms = (request.arg("q") or "").lower().split()
            if not terms:
                return 400, {"error": "InvalidRequest", "message": "q is required"}, {}
            since = request.arg("since") or ""
            found = [
                p
                for p in self.posts
                if all(t in p["record"]["text"].lower() for t in terms) and p["indexedAt"] > since
            ]
            return self._page(request, found, "posts")
        if nsid == "com.atproto.repo.createRecord":
            body = request.body or {}
            record = body.get("record") or {}
            text = record.get("text", "")
            parent = ((record.get("reply") or {}).get("parent") or {}).get("uri")
            if not text:
                return 400, {"error": "InvalidRequest", "message": "text"}, {}
            uri = self.add_post(text, author=self.account_handle, mention=False, reply_to=parent)
            self.replies.append({"id": uri, "text": text, "in_reply_to": parent})
            view = next(p for p in self.posts if p["uri"] == uri)
            return 200, {"uri": uri, "cid": view["cid"]}, {}
        return 400, {"error": "MethodNotImplemented", "message": nsid}, {}

    def _page(self, request: Request, items: list[dict[str, Any]], key: str):
        limit = min(int(request.arg("limit") or 50), 100)
        cursor = request.arg("cursor")
        with self.lock:
            newest_first = sorted(items, key=lambda i: i["indexedAt"], reverse=True)
            if cursor:
                newest_first = [i for i in newest_first if i["indexedAt"] < cursor]
            page = newest_first[:limit]
            more = len(newest_first) > limit
        body: dict[str, Any] = {key: page}
        if more and page:
            body["cursor"] = page[-1]["indexedAt"]
        return 200, body, {"ratelimit-remaining": "2999", "ratelimit-limit": "3000"}
