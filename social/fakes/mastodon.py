"""A fake Mastodon server: mention notifications, hashtag timelines and posting a status, as
Mastodon.py calls them (``GET /api/v1/notifications``, ``GET /api/v1/timelines/tag/:tag``,
``POST /api/v1/statuses``), with ``min_id``/``since_id``/``max_id``/``limit`` paging. Status
content is HTML, as on a real server; the 429 reset header is an ISO time, as Mastodon sends.
"""

from __future__ import annotations

import html
import itertools
from datetime import UTC, datetime
from typing import Any

from . import FakeServer, Request, page_newest_first

TOKEN = "fake-mastodon-token"  # noqa: S105


class FakeMastodon(FakeServer):
    def __init__(self, *, token: str = TOKEN, domain: str = "mastodon.example") -> None:
        super().__init__()
        self.token = token
        self.domain = domain
        self.statuses: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self._ids = itertools.count(110_000_000_000_000_001)

    def _account(self, acct: str, *, bot: bool = False) -> dict[str, Any]:
        username = acct.split("@")[0]
        return {
            "id": str(abs(hash(acct)) % 10**12),
            "username": username,
            "acct": acct,
            "display_name": username.title(),
            "bot": bot,
            "url": f"https://{self.domain}/@{username}",
            "created_at": "2024-01-01T00:00:00.000Z",
        }

    def add_post(
        self,
        text: str,
        *,
        author: str = "resident",
        mention: bool = True,
        tags: tuple[str, ...] = (),
        in_reply_to: str | None = None,
        bot: bool = False,
        content_html: str | None = None,
    ) -> str:
        """Publish a status (text is HTML-escaped into a paragraph unless ``content_html``);
        with ``mention``, the council account gets a mention notification for it."""
        with self.lock:
            status_id = str(next(self._ids))
            status = {
                "id": status_id,
                "uri": f"https://{self.domain}/users/{author}/statuses/{status_id}",
                "url": f"https://{self.domain}/@{author}/{status_id}",
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "account": self._account(author, bot=bot),
                "content": content_html
                if content_html is not None
                else f"<p>{html.escape(text)}</p>",
                "in_reply_to_id": in_reply_to,
                "visibility": "public",
                "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in tags],
                "mentions": [],
                "media_attachments": [],
            }
            self.statuses.append(status)
            if mention:
                self.notifications.append(
                    {
                        "id": str(next(self._ids)),
                        "type": "mention",
                        "created_at": status["created_at"],
                        "account": status["account"],
                        "status": status,
                    }
                )
        return status_id

    def handle(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "The access token is invalid"}, {}
        path = request.path
        if request.method == "GET" and path == "/api/v1/notifications":
            types = request.query.get("types[]") or request.query.get("types") or []
            return self._page(
                request, [n for n in self.notifications if not types or n["type"] in types]
            )
        if request.method == "GET" and path.startswith("/api/v1/timelines/tag/"):
            tag = path.rsplit("/", 1)[1].lower()
            return self._page(
                request,
                [s for s in self.statuses if tag in {t["name"].lower() for t in s["tags"]}],
            )
        if request.method == "POST" and path == "/api/v1/statuses":
            body = request.body or {}
            text = body.get("status", "")
            if not text:
                return 422, {"error": "Validation failed: Text can't be blank"}, {}
            reply_to = body.get("in_reply_to_id")
            status_id = self.add_post(text, author="council", mention=False, in_reply_to=reply_to)
            self.replies.append({"id": status_id, "text": text, "in_reply_to": reply_to})
            status = next(s for s in self.statuses if s["id"] == status_id)
            return 200, status, {}
        return 404, {"error": "Record not found"}, {}

    def _page(self, request: Request, items: list[dict[str, Any]]):
        limit = min(int(request.arg("limit") or 20), 40)
        min_id = request.arg("min_id")
        since_id = request.arg("since_id")
        max_id = request.arg("max_id")
        with self.lock:
            if min_id:
                # Mastodon: the page immediately after min_id (oldest first), shown newest first.
                newer = sorted(
                    (i for i in items if int(i["id"]) > int(min_id)), key=lambda i: int(i["id"])
                )[:limit]
                chosen = sorted(newer, key=lambda i: int(i["id"]), reverse=True)
            else:
                chosen = page_newest_first(
                    items,
                    key=lambda i: int(i["id"]),
                    since=int(since_id) if since_id else None,
                    until=int(max_id) if max_id else None,
                    limit=limit,
                )
        return 200, chosen, {"X-RateLimit-Remaining": "299", "X-RateLimit-Limit": "300"}
