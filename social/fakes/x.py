"""A fake X API v2: user mentions, recent search and posting, as tweepy's ``Client`` calls them.

Speaks ``GET /2/users/:id/mentions``, ``GET /2/tweets/search/recent`` (``since_id``,
``pagination_token``/``next_token``, ``max_results``, newest first, ``meta.newest_id`` and
``meta.next_token``), ``POST /2/tweets`` (a reply) and ``GET /2/users/me``. Bearer tokens are
checked. Failures are injected with ``fail_next`` (for example ``fail_next(429,
headers={"x-rate-limit-reset": "..."})`` or a 429 without the header).
"""

from __future__ import annotations

import bisect
import itertools
from datetime import UTC, datetime
from typing import Any

from . import FakeServer, Request

TOKEN = "fake-x-bearer-token"  # noqa: S105


class FakeX(FakeServer):
    def __init__(self, *, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.tweets: list[dict[str, Any]] = []
        """Every post, oldest first (ids only grow)."""
        self.users: dict[str, dict[str, str]] = {}
        self._ids = itertools.count(1_000_000_000_000_000_001)
        # Indexes, so a page costs the same with 20,000 posts held as with 20 (the bench):
        # a tweet by id, a user id by username, and each user's mentions oldest first with
        # their ids as numbers for bisecting.
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_username: dict[str, str] = {}
        self._mentions: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}

    def add_user(self, username: str, *, user_id: str | None = None, name: str = "") -> str:
        with self.lock:
            user_id = user_id or str(next(self._ids))
            self.users[user_id] = {"id": user_id, "username": username, "name": name or username}
            self._by_username.setdefault(username, user_id)
        return user_id

    def add_post(
        self,
        text: str,
        *,
        author: str = "resident",
        mentions: str | None = None,
        in_reply_to: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Publish a post; ``mentions`` is the user id it mentions (for the mentions timeline)."""
        with self.lock:
            author_id = self._by_username.get(author) or self.add_user(author)
            tweet_id = str(next(self._ids))
            tweet: dict[str, Any] = {
                "id": tweet_id,
                "text": text,
                "author_id": author_id,
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "conversation_id": tweet_id,
                "edit_history_tweet_ids": [tweet_id],
            }
            if in_reply_to:
                parent = self._by_id[in_reply_to]
                tweet["conversation_id"] = parent["conversation_id"]
                tweet["in_reply_to_user_id"] = parent["author_id"]
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": in_reply_to}]
            if lon is not None and lat is not None:
                tweet["geo"] = {"coordinates": {"type": "Point", "coordinates": [lon, lat]}}
            tweet.update(extra or {})
            tweet["_mentions"] = mentions
            self.tweets.append(tweet)
            self._by_id[tweet_id] = tweet
            if mentions:
                keys, tweets = self._mentions.setdefault(mentions, ([], []))
                keys.append(int(tweet_id))
                tweets.append(tweet)
        return tweet_id

    def handle(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"title": "Unauthorized", "status": 401, "detail": "Unauthorized"}, {}
        path = request.path
        if request.method == "GET" and path.startswith("/2/users/") and path.endswith("/mentions"):
            user_id = path.split("/")[3]
            with self.lock:
                keys, tweets = self._mentions.get(user_id, ([], []))
                return self._timeline(request, keys, tweets)
        if request.method == "GET" and path == "/2/tweets/search/recent":
            terms = (request.arg("query") or "").lower().split()
            if not terms:
                return 400, {"title": "Invalid Request", "detail": "query is required"}, {}
            with self.lock:
                found = [t for t in self.tweets if all(term in t["text"].lower() for term in terms)]
                return self._timeline(request, [int(t["id"]) for t in found], found)
        if request.method == "POST" and path == "/2/tweets":
            body = request.body or {}
            text = body.get("text", "")
            if not text or len(text) > 280:
                return 400, {"title": "Invalid Request", "detail": "text"}, {}
            reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            tweet_id = self.add_post(text, author="council", in_reply_to=reply_to)
            self.replies.append({"id": tweet_id, "text": text, "in_reply_to": reply_to})
            return 201, {"data": {"id": tweet_id, "text": text}}, {}
        return 404, {"title": "Not Found", "status": 404}, {}

    def _timeline(
        self, request: Request, keys: list[int], tweets: list[dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        """A page of ``tweets`` (oldest first, ``keys`` their ids as numbers) newest first:
        after ``since_id``, before the pagination token (the oldest id of the last page)."""
        limit = int(request.arg("max_results") or 10)
        if not 5 <= limit <= 100:
            return 400, {"title": "Invalid Request", "detail": "max_results"}, {}
        since = request.arg("since_id")
        token = request.arg("pagination_token") or request.arg("next_token")
        low = bisect.bisect_right(keys, int(since)) if since else 0
        high = bisect.bisect_left(keys, int(token)) if token else len(keys)
        chosen = tweets[max(low, high - limit - 1) : high][::-1]
        more = len(chosen) > limit
        chosen = chosen[:limit]
        data = [{k: v for k, v in t.items() if not k.startswith("_")} for t in chosen]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta["newest_id"] = data[0]["id"]
            meta["oldest_id"] = data[-1]["id"]
        if more:
            meta["next_token"] = data[-1]["id"]
        users = [self.users[i] for i in {t["author_id"] for t in data}]
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
            body["includes"] = {"users": users}
        return 200, body, {"x-rate-limit-remaining": "100"}
