"""Storing fetched posts once each, the spam and bot filter, and residents linking their
network accounts by posting a code."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from social.clients import Fetched
from social.models import (
    Post,
    Source,
)

from .common import CaseError, _own_handles

# --- spam and bots ------------------------------------------------------------------------------

_LINK = re.compile(r"https?://", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w")
_HASHTAG = re.compile(r"(?<!\w)#\w")
_GENERATED_HANDLE = re.compile(r"^[a-z]+[0-9]{6,}$", re.IGNORECASE)
_SPAM_WORDS = re.compile(
    r"\b(crypto|airdrop|giveaway|onlyfans|forex|casino|free followers|dm me|earn \$)",
    re.IGNORECASE,
)


def spam_reason(fetched: Fetched) -> str:
    """Why this post looks like spam or a bot, or "" when it does not. Cheap checks only:
    a flagged bot account, too many links, mentions or hashtags, a generated-looking handle
    with a link, spam phrases with a link."""
    text = fetched.text
    links = len(_LINK.findall(text))
    if fetched.is_bot:
        return "bot account"
    if links > 3:
        return "too many links"
    if len(_MENTION.findall(text)) > 6:
        return "too many mentions"
    if len(_HASHTAG.findall(text)) > 8:
        return "too many hashtags"
    if links and _GENERATED_HANDLE.match(fetched.author_handle):
        return "generated-looking account with a link"
    if links and _SPAM_WORDS.search(text):
        return "spam phrase with a link"
    if not text.strip():
        return "no text"
    return ""


# --- residents linking their accounts -----------------------------------------------------------

_CODE = re.compile(r"\bmoot-([A-Z0-9]{6})\b", re.IGNORECASE)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_HANDLE = re.compile(r"^@?[A-Za-z0-9_.@:-]{1,190}$")


def identity_start(*, user: Any, network: str, handle: str) -> Any:
    """Start linking a network account to a resident: a code they post from that account.
    Refused if the account is already linked to someone else."""
    import secrets

    from social.models import Network, SocialIdentity

    handle = (handle or "").strip().lstrip("@")
    if network not in Network.values:
        raise CaseError(_("Choose a network from the list."))
    if not _HANDLE.match(handle):
        raise CaseError(
            _("Enter your handle as it appears on the network, like jo_bloggs or jo.bsky.social.")
        )
    with transaction.atomic():
        existing = (
            SocialIdentity.objects.select_for_update()
            .filter(network=network, handle__iexact=handle)
            .first()
        )
        if (
            existing is not None
            and existing.verified_at is not None
            and existing.user_id != user.pk
        ):
            raise CaseError(_("That account is already linked to another resident."))
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if existing is None:
            existing = SocialIdentity(user=user, network=network, handle=handle)
        existing.user = user
        existing.handle = handle
        existing.code = code
        existing.verified_at = None
        existing.created_at = timezone.now()
        existing.save()
    return existing


def identity_remove(*, user: Any, identity_id: int) -> None:
    from social.models import SocialIdentity

    SocialIdentity.objects.filter(user=user, pk=identity_id).delete()


def _verify_codes(source: Source, posts: list[Fetched]) -> set[str]:
    """Posts carrying a linking code from the account being linked verify it; their ids are
    returned so they are stored without becoming cases."""
    from social.models import SocialIdentity

    found = {}
    for fetched in posts:
        match = _CODE.search(fetched.text)
        if match:
            found[match[1].upper()] = fetched
    if not found:
        return set()
    used = set()
    for identity in SocialIdentity.objects.filter(
        network=source.network,
        code__in=list(found),
        verified_at__isnull=True,
        created_at__gte=timezone.now() - timedelta(days=7),
    ):
        fetched = found[identity.code]
        if fetched.author_handle.lstrip("@").lower() == identity.handle.lower():
            identity.verified_at = timezone.now()
            identity.code = ""
            identity.save(update_fields=["verified_at", "code"])
            used.add(fetched.external_id)
    return used


# --- ingest -------------------------------------------------------------------------------------


def posts_store(*, source: Source, posts: list[Fetched]) -> list[int]:
    """Store fetched posts once each; return the ids of the new ones that need routing.

    The council's own posts and spam are stored (so the thread is complete and staff can
    review the filter) but marked ignored and never routed. Idempotent."""
    if not posts:
        return []
    unique: dict[str, Fetched] = {}
    for fetched in posts:
        for name in (
            "external_id",
            "author_id",
            "author_handle",
            "author_name",
            "in_reply_to_id",
            "conversation_id",
            "url",
        ):
            setattr(fetched, name, _without_nul(getattr(fetched, name)))
        fetched.external_id = fetched.external_id[:200]
        unique.setdefault(fetched.external_id, fetched)
    existing = set(
        Post.objects.filter(network=source.network, external_id__in=list(unique)).values_list(
            "external_id", flat=True
        )
    )
    own = _own_handles()
    now = timezone.now()
    rows = []
    verifying = _verify_codes(source, [f for f in unique.values() if f.external_id not in existing])
    for fetched in unique.values():
        if fetched.external_id in existing:
            continue
        ignored = ""
        if fetched.external_id in verifying:
            ignored = "account linking code"
        elif fetched.author_handle.lstrip("@").lower() in own:
            ignored = "council's own post"
        else:
            reason = spam_reason(fetched)
            if reason:
                ignored = f"spam: {reason}"
        rows.append(
            Post(
                network=source.network,
                external_id=fetched.external_id[:200],
                source=source,
                author_id=fetched.author_id[:200],
                author_handle=fetched.author_handle[:200],
                author_name=fetched.author_name[:200],
                text=fetched.text,
                posted_at=fetched.posted_at,
                fetched_at=now,
                lon=fetched.lon,
                lat=fetched.lat,
                in_reply_to_id=fetched.in_reply_to_id[:200],
                conversation_id=fetched.conversation_id[:200],
                url=_safe_url(fetched.url),
                raw=_bounded(fetched.raw),
                ignored=ignored,
                routed_at=now if ignored else None,
            )
        )
    with transaction.atomic():
        Post.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        Source.objects.filter(pk=source.pk).update(posts_read=F("posts_read") + len(unique))
        source.posts_read += len(unique)
        return list(
            Post.objects.filter(
                network=source.network,
                external_id__in=[r.external_id for r in rows if not r.ignored],
                routed_at__isnull=True,
            ).values_list("pk", flat=True)
        )


def _safe_url(url: str) -> str:
    """Only web links: a payload's ``javascript:`` or ``data:`` URL is dropped, not linked."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) and len(url) <= 500 else ""


def _bounded(raw: dict[str, Any], limit: int = 32_000) -> dict[str, Any]:
    """The raw payload as plain JSON data (anything else as its text), without NULs, or a note
    saying why it is not kept (too big, unreadable)."""
    try:
        text = json.dumps(raw, default=str)
    except (TypeError, ValueError):
        return {"unreadable": True}
    if len(text) > limit:
        return {"truncated": True, "size": len(text)}
    plain = json.loads(text)
    # json.dumps writes a NUL as the escape \u0000, so a payload without one needs no walk.
    return _without_nul(plain) if "\\u0000" in text else plain


def _without_nul(value: Any) -> Any:
    """PostgreSQL refuses NUL characters in text and jsonb: a payload carrying one must not
    stop the poll, so they are dropped from every string (keys included)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
