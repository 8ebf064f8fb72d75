"""The three networks behind one small interface, using their real client libraries.

``adapter_for(source)`` returns an object with ``fetch()`` (yields :class:`Batch` es of
normalised posts, each with the cursor that is safe to store once the batch is stored) and
``reply(text=, to=)`` (posts a reply, returns its id). Errors come out as three kinds the
poller understands: :class:`RateLimited` (with the reset time when the server gave one),
:class:`Transient` (5xx, timeouts, connection errors: back off with jitter) and
:class:`Permanent` (bad credentials, a bad query: a person must fix the source).

Base URLs come from settings (``SOCIAL_X_API_BASE_URL``, ``SOCIAL_MASTODON_BASE_URL``,
``SOCIAL_BLUESKY_BASE_URL``). tweepy hard-codes ``https://api.twitter.com``; its client gets a
:class:`BaseURLSession` that rewrites that prefix to the setting (and adds a timeout, which
tweepy does not set).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

TWEEPY_HOST = "https://api.twitter.com"
TIMEOUT = 15.0
MAX_TEXT = 5000
PAGE_LIMIT = 50
"""Pages read per poll and source at most; the rest wait for the next poll (cost control)."""


class PollError(Exception):
    """A failed call to a network; the message is safe to show staff."""


class RateLimited(PollError):
    def __init__(self, message: str, *, reset_at: datetime | None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class Transient(PollError):
    pass


class Permanent(PollError):
    pass


@dataclass
class Fetched:
    """A post as every network's adapter gives it to ingest."""

    external_id: str
    author_handle: str
    text: str
    posted_at: datetime
    author_id: str = ""
    author_name: str = ""
    in_reply_to_id: str = ""
    conversation_id: str = ""
    url: str = ""
    lon: float | None = None
    lat: float | None = None
    is_bot: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    posts: list[Fetched]
    cursor: str | None = None
    """The cursor to store once these posts are stored (None: leave it as it is)."""
    skipped: int = 0
    """Items in the page that were malformed and left out."""


_SEP = " "


def split_cursor(cursor: str) -> tuple[str | None, str | None, str | None]:
    """A stored cursor is either the newest item seen (``since``), or, part way through a
    newest-first listing (X, Bluesky), ``since newest next-page``: the poll goes on from the
    next page and, at the end, keeps ``newest``."""
    parts = (cursor or "").split(_SEP)
    if len(parts) == 3:
        return parts[0] or None, parts[1] or None, parts[2] or None
    return (cursor or None), None, None


def join_cursor(since: str | None, newest: str | None, page: str | None) -> str:
    return _SEP.join([since or "", newest or "", page or ""])


class BaseURLSession(requests.Session):
    """A requests session that sends tweepy's hard-coded host to ``base_url`` instead, with a
    default timeout. tweepy builds every URL as ``"https://api.twitter.com" + route``, so a
    prefix rewrite is all it takes."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout if timeout is not None else TIMEOUT

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag in {"br", "p"} and self.parts:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: Any, *, is_html: bool = False) -> str:
    """Plain text from a post: HTML reduced to its text (scripts dropped), entities decoded,
    control and bidi characters removed, and cut to ``MAX_TEXT`` characters."""
    if not isinstance(text, str):
        return ""
    if is_html:
        parser = _Text()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    text = _CONTROL.sub("", text).strip()
    return text[:MAX_TEXT]


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value or "").replace("Z", "+00:00"))
    if parsed is None:
        raise ValueError(f"unreadable time {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:480]


# --- X ------------------------------------------------------------------------------------------


class XAdapter:
    network = "x"

    def __init__(self, source: Any) -> None:
        import tweepy

        self.source = source
        self.client = tweepy.Client(bearer_token=source.secret, return_type=dict)
        self.client.session = BaseURLSession(settings.SOCIAL_X_API_BASE_URL)

    def _call(self, fn, *args, **kwargs) -> Any:
        import tweepy

        try:
            return fn(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            reset = datetime.fromtimestamp(exc.reset_time, tz=UTC) if exc.reset_time else None
            raise RateLimited("X: 429 Too Many Requests", reset_at=reset) from exc
        except tweepy.TwitterServerError as exc:
            raise Transient(f"X: server error {exc.response.status_code}") from exc
        except (tweepy.Unauthorized, tweepy.Forbidden, tweepy.BadRequest, tweepy.NotFound) as exc:
            raise Permanent(f"X: {_short(exc)}") from exc
        except tweepy.HTTPException as exc:
            raise Transient(f"X: {_short(exc)}") from exc
        except (requests.RequestException, ValueError) as exc:
            raise Transient(f"X: {_short(exc)}") from exc

    def fetch(self) -> Iterator[Batch]:
        """Newest first from ``since_id`` (the stored cursor), page by page. The new cursor
        (the newest id) is given only with the last page: storing it earlier would skip the
        older pages if the poll died half way."""
        fields = {
            "tweet_fields": [
                "created_at",
                "author_id",
                "conversation_id",
                "geo",
                "referenced_tweets",
                "in_reply_to_user_id",
            ],
            "expansions": ["author_id"],
            "user_fields": ["username", "name"],
            "max_results": 100,
        }
        since, newest, token = split_cursor(self.source.cursor)
        for _ in range(PAGE_LIMIT):
            if self.source.kind == "mentions":
                page = self._call(
                    self.client.get_users_mentions,
                    self.source.account,
                    since_id=since,
                    pagination_token=token,
                    **fields,
                )
            else:
                page = self._call(
                    self.client.search_recent_tweets,
                    self.source.query,
                    since_id=since,
                    next_token=token,
                    **fields,
                )
            if not isinstance(page, dict):
                raise Transient("X: the response was not a JSON object")
            meta = page.get("meta") or {}
            newest = newest or meta.get("newest_id")
            token = meta.get("next_token")
            users = {
                u.get("id"): u
                for u in (page.get("includes") or {}).get("users") or []
                if isinstance(u, dict)
            }
            posts, skipped = [], 0
            for item in page.get("data") or []:
                try:
                    posts.append(self._post(item, users))
                except (KeyError, TypeError, ValueError, AttributeError):
                    skipped += 1
            last = not token
            # Between pages the cursor remembers where to go on (a poll that reaches the page
            # limit continues there next time); after the last page, only the newest id.
            cursor = newest if last else join_cursor(since, newest, token)
            yield Batch(posts=posts, cursor=cursor, skipped=skipped)
            if last:
                return

    @staticmethod
    def _post(item: dict[str, Any], users: dict[str, dict[str, Any]]) -> Fetched:
        user = users.get(item.get("author_id")) or {}
        handle = str(user.get("username") or item["author_id"])
        reply_to = next(
            (
                str(r["id"])
                for r in item.get("referenced_tweets") or []
                if r.get("type") == "replied_to"
            ),
            "",
        )
        lon = lat = None
        point = ((item.get("geo") or {}).get("coordinates") or {}).get("coordinates")
        if isinstance(point, list) and len(point) == 2:
            lon, lat = float(point[0]), float(point[1])
        tweet_id = str(item["id"])
        if not tweet_id.isdigit():
            raise ValueError("X ids are numbers")
        return Fetched(
            external_id=tweet_id,
            author_id=str(item.get("author_id") or ""),
            author_handle=handle[:200],
            author_name=str(user.get("name") or "")[:200],
            text=clean_text(item["text"]),
            posted_at=_when(item.get("created_at")),
            in_reply_to_id=reply_to,
            conversation_id=str(item.get("conversation_id") or tweet_id),
            url=f"https://x.com/{handle}/status/{tweet_id}",
            lon=lon,
            lat=lat,
            raw=item,
        )

    def reply(self, *, text: str, to: Any) -> str:
        data = self._call(
            self.client.create_tweet,
            text=text,
            in_reply_to_tweet_id=to.external_id,
            user_auth=False,
        )
        return str(data["data"]["id"])


# --- Mastodon -----------------------------------------------------------------------------------


class MastodonAdapter:
    network = "mastodon"

    def __init__(self, source: Any) -> None:
        from mastodon import Mastodon

        self.source = source
        self.client = Mastodon(
            access_token=source.secret or None,
            api_base_url=settings.SOCIAL_MASTODON_BASE_URL,
            ratelimit_method="throw",
            request_timeout=TIMEOUT,
            version_check_mode="none",
        )

    def _call(self, fn, *args, **kwargs) -> Any:
        import mastodon

        try:
            return fn(*args, **kwargs)
        except mastodon.MastodonRatelimitError as exc:
            reset = self.client.ratelimit_reset
            reset_at = datetime.fromtimestamp(reset, tz=UTC) if reset else None
            raise RateLimited("Mastodon: 429 Too Many Requests", reset_at=reset_at) from exc
        except (mastodon.MastodonServerError, mastodon.MastodonNetworkError) as exc:
            raise Transient(f"Mastodon: {_short(exc)}") from exc
        except (
            mastodon.MastodonUnauthorizedError,
            mastodon.MastodonNotFoundError,
            mastodon.MastodonIllegalArgumentError,
        ) as exc:
            raise Permanent(f"Mastodon: {_short(exc)}") from exc
        except mastodon.MastodonAPIError as exc:
            if "429" in str(exc):
                raise RateLimited("Mastodon: 429 Too Many Requests", reset_at=None) from exc
            raise Permanent(f"Mastodon: {_short(exc)}") from exc
        except (mastodon.MastodonError, ValueError) as exc:
            raise Transient(f"Mastodon: {_short(exc)}") from exc

    def fetch(self) -> Iterator[Batch]:
        """Forward from ``min_id`` (the stored cursor): each page holds the items just after
        the cursor, so the cursor can move on with every stored page."""
        cursor = self.source.cursor or None
        for _ in range(PAGE_LIMIT):
            if self.source.kind == "mentions":
                items = self._call(
                    self.client.notifications, types=["mention"], min_id=cursor, limit=40
                )
            else:
                items = self._call(
                    self.client.timeline_hashtag,
                    self.source.query.lstrip("#"),
                    min_id=cursor,
                    limit=40,
                )
            if not isinstance(items, list):
                raise Transient("Mastodon: the response was not a list")
            if not items:
                return
            posts, skipped, ids = [], 0, []
            for item in items:
                try:
                    ids.append(int(item["id"]))
                    status = item["status"] if self.source.kind == "mentions" else item
                    posts.append(self._post(status))
                except (KeyError, TypeError, ValueError, AttributeError):
                    skipped += 1
            if not ids:
                raise Transient("Mastodon: a page without readable ids")
            cursor = str(max(ids))
            yield Batch(posts=posts, cursor=cursor, skipped=skipped)

    @staticmethod
    def _post(status: Any) -> Fetched:
        account = status["account"]
        raw = _plain(status)
        return Fetched(
            external_id=str(status["id"]),
            author_id=str(account.get("id") or ""),
            author_handle=str(account["acct"])[:200],
            author_name=str(account.get("display_name") or "")[:200],
            text=clean_text(status["content"], is_html=True),
            posted_at=_when(status["created_at"]),
            in_reply_to_id=str(status.get("in_reply_to_id") or ""),
            url=str(status.get("url") or "")[:500],
            is_bot=bool(account.get("bot")),
            raw=raw,
        )

    def reply(self, *, text: str, to: Any) -> str:
        status = self._call(self.client.status_post, text, in_reply_to_id=to.external_id)
        return str(status["id"])


def _plain(value: Any) -> Any:
    """Mastodon.py's typed entities as JSON-able data for the raw payload."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --- Bluesky ------------------------------------------------------------------------------------


class BlueskyAdapter:
    network = "bluesky"

    def __init__(self, source: Any) -> None:
        from atproto import Client
        from atproto_client.request import Request

        self.source = source
        self.client = Client(
            base_url=settings.SOCIAL_BLUESKY_BASE_URL, request=Request(timeout=TIMEOUT)
        )
        self._logged_in = False

    def _call(self, fn, *args, **kwargs) -> Any:
        from atproto_client import exceptions

        try:
            if not self._logged_in:
                self.client.login(self.source.account, self.source.secret, fetch_bsky_profile=False)
                self._logged_in = True
            return fn(*args, **kwargs)
        except exceptions.RateLimitExceededError as exc:
            raise RateLimited("Bluesky: 429 Too Many Requests", reset_at=exc.reset_at) from exc
        except exceptions.NetworkError as exc:
            raise Transient(f"Bluesky: {_short(exc)}") from exc
        except (exceptions.UnauthorizedError, exceptions.BadRequestError) as exc:
            raise Permanent(f"Bluesky: {_short(exc)}") from exc
        except exceptions.RequestException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status == 0:
                raise Transient(f"Bluesky: {_short(exc)}") from exc
            raise Permanent(f"Bluesky: {_short(exc)}") from exc
        except (exceptions.AtProtocolError, ValueError) as exc:
            raise Transient(f"Bluesky: {_short(exc)}") from exc

    def fetch(self) -> Iterator[Batch]:
        """Newest first, paging into the past until the stored cursor (the newest
        ``indexedAt`` seen); the new cursor is given with the last page only."""
        since, newest, page_cursor = split_cursor(self.source.cursor)
        since, newest = since or "", newest or ""
        for _ in range(PAGE_LIMIT):
            if self.source.kind == "mentions":
                page = self._call(
                    self.client.app.bsky.notification.list_notifications,
                    params={"limit": 50, "cursor": page_cursor},
                )
                items = [n for n in page.notifications if n.reason in {"mention", "reply"}]
                all_items = page.notifications
            else:
                params: dict[str, Any] = {"q": self.source.query, "limit": 50, "sort": "latest"}
                if page_cursor:
                    params["cursor"] = page_cursor
                if since:
                    params["since"] = since
                page = self._call(self.client.app.bsky.feed.search_posts, params=params)
                items = all_items = page.posts
            newest = max([newest, *(i.indexed_at for i in all_items)])
            reached = any(i.indexed_at <= since for i in all_items) if since else False
            posts, skipped = [], 0
            for item in items:
                if since and item.indexed_at <= since:
                    continue
                try:
                    posts.append(self._post(item))
                except (KeyError, TypeError, ValueError, AttributeError):
                    skipped += 1
            page_cursor = page.cursor
            last = reached or not page_cursor or not all_items
            cursor = (newest or None) if last else join_cursor(since, newest, page_cursor)
            yield Batch(posts=posts, cursor=cursor, skipped=skipped)
            if last:
                return

    @staticmethod
    def _post(item: Any) -> Fetched:
        record = item.record
        text = getattr(record, "text", None)
        if text is None:
            raise ValueError("not a post")
        reply = getattr(record, "reply", None)
        rkey = item.uri.rsplit("/", 1)[-1]
        raw = (
            item.model_dump(mode="json", by_alias=True, exclude_none=True)
            if hasattr(item, "model_dump")
            else {}
        )
        return Fetched(
            external_id=item.uri,
            author_id=item.author.did,
            author_handle=item.author.handle[:200],
            author_name=(item.author.display_name or "")[:200],
            text=clean_text(text),
            posted_at=_when(record.created_at),
            in_reply_to_id=reply.parent.uri if reply else "",
            conversation_id=reply.root.uri if reply else item.uri,
            url=f"https://bsky.app/profile/{item.author.handle}/post/{rkey}",
            raw=raw,
        )

    def reply(self, *, text: str, to: Any) -> str:
        from atproto import models

        raw = to.raw or {}
        parent = models.ComAtprotoRepoStrongRef.Main(uri=to.external_id, cid=raw.get("cid", ""))
        root_raw = ((raw.get("record") or {}).get("reply") or {}).get("root")
        root = (
            models.ComAtprotoRepoStrongRef.Main(uri=root_raw["uri"], cid=root_raw["cid"])
            if root_raw
            else parent
        )
        sent = self._call(
            lambda **kw: self.client.send_post(
                text, profile_identify=self.client._session.did, **kw
            ),
            reply_to=models.AppBskyFeedPost.ReplyRef(parent=parent, root=root),
        )
        return str(sent.uri)


ADAPTERS = {"x": XAdapter, "mastodon": MastodonAdapter, "bluesky": BlueskyAdapter}


def adapter_for(source: Any) -> XAdapter | MastodonAdapter | BlueskyAdapter:
    return ADAPTERS[source.network](source)
