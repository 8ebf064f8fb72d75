"""Every write to social listening: storing fetched posts, routing them into cases, and what
councillors and staff do to a case (reply, note, state, owner, priority, labels, merge).

Nothing is lost and nothing is doubled, whatever dies when:

* :func:`posts_store` inserts with the unique (network, external id) constraint, so a page
  fetched twice stores each post once; the poller moves its cursor only after the posts are
  stored.
* :func:`post_route` locks the post row and does nothing if the post is already routed; the
  case, the post's link to it and ``routed_at`` are written in one transaction. A worker killed
  half way leaves the post unrouted, and the sweep (``tasks.route_unrouted``) routes it later.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.core.memo import memo
from engagement.core.validators import validate_no_markup
from engagement.people.models import Councillor
from engagement.realtime.services import publish
from engagement.tasks import enqueue

from . import clock
from .clients import Fetched
from .models import (
    Case,
    CaseEvent,
    Label,
    ListeningSettings,
    Post,
    Reply,
    Source,
    Team,
)
from .routing import Diversion, place_of, route_post

logger = logging.getLogger(__name__)

MAX_REPLY = {"x": 280, "mastodon": 500, "bluesky": 300}


class CaseError(ValueError):
    """A request that cannot be done; the message says why and nothing was changed."""


@memo(seconds=10)
def listening_settings() -> ListeningSettings:
    return ListeningSettings.objects.order_by("pk").first() or ListeningSettings()


@memo(seconds=10)
def _own_handles() -> frozenset[str]:
    handles = {
        h.strip().lstrip("@").lower()
        for h in listening_settings().own_handles.splitlines()
        if h.strip()
    }
    for source in Source.objects.values_list("account", flat=True):
        handles.add(source.lstrip("@").lower())
    return frozenset(handles)


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

    from .models import Network, SocialIdentity

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
    from .models import SocialIdentity

    SocialIdentity.objects.filter(user=user, pk=identity_id).delete()


def _verify_codes(source: Source, posts: list[Fetched]) -> set[str]:
    """Posts carrying a linking code from the account being linked verify it; their ids are
    returned so they are stored without becoming cases."""
    from .models import SocialIdentity

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
    import json

    try:
        size = len(json.dumps(raw, default=str))
    except (TypeError, ValueError):
        return {"unreadable": True}
    if size > limit:
        return {"truncated": True, "size": size}
    return _without_nul(json.loads(json.dumps(raw, default=str)))


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


# --- routing ------------------------------------------------------------------------------------


def inbox_streams(case: Case, watcher_ids: list[int] | None = None) -> list[str]:
    """The live streams a case's changes go to: its owner's and watchers' inboxes, and staff's."""
    if watcher_ids is None:
        watcher_ids = list(case.watchers.values_list("pk", flat=True))
    streams = ["social-inbox.staff"]
    for councillor_id in sorted({case.owner_id, *watcher_ids} - {None}):
        streams.append(f"social-inbox.{councillor_id}")
    return streams


def _publish_case(case: Case, event: str) -> None:
    _publish_cases([(case, event, None)])


def _publish_cases(changes: list[tuple[Case, str, list[int] | None]]) -> None:
    """One event per inbox stream for the whole batch, carrying every changed case's row."""
    by_stream: dict[str, list[tuple[Case, str]]] = {}
    unique = list({case.pk: case for case, _, _ in changes}.values())
    # One template render for the batch (a render per row costs more than the row), split.
    separator = "<!-- moot:row -->"
    html = render_to_string(
        "social/includes/_case_rows_live.html", {"cases": unique, "separator": separator}
    )
    rows = dict(zip([c.pk for c in unique], html.split(separator), strict=False))
    for case, event, watcher_ids in changes:
        for stream in inbox_streams(case, watcher_ids):
            by_stream.setdefault(stream, []).append((case, event))
    for stream, items in by_stream.items():
        events = {event for _, event in items}
        publish(
            stream=stream,
            event=events.pop() if len(events) == 1 else "social.cases.changed",
            html="".join(rows[case.pk] for case, _ in items),
            payload={"cases": [case.pk for case, _ in items]},
        )


def post_route(*, post_id: int) -> Case | None:
    """Route one stored post (see :func:`posts_route`); its case, or None for an ignored or
    diverted post."""
    return posts_route(post_ids=[post_id]).get(post_id)


def posts_route(*, post_ids: list[int]) -> dict[int, Case | None]:
    """Route stored posts: each joins the case of the post it replies to (or its conversation's
    open case), or gets a new case where routing says. One transaction for the batch, with the
    posts locked: idempotent, and safe to run on overlapping batches at once. If the batch
    fails, each post is tried on its own, so one bad post cannot hold up the others."""
    try:
        return _route_batch(sorted(set(post_ids)))
    except Exception:
        if len(post_ids) == 1:
            raise
        logger.exception(
            "Routing a batch of %s posts failed; routing them one by one", len(post_ids)
        )
        routed: dict[int, Case | None] = {}
        for post_id in post_ids:
            routed.update(_route_batch([post_id]))
        return routed


def _route_batch(post_ids: list[int]) -> dict[int, Case | None]:
    from .routing import Batch

    with transaction.atomic():
        posts = list(Post.objects.select_for_update().filter(pk__in=post_ids).order_by("pk"))
        done = {p.pk: p.case_id for p in posts if p.routed_at is not None}
        todo = sorted((p for p in posts if p.routed_at is None), key=lambda p: (p.posted_at, p.pk))
        result: dict[int, Case | None] = {}
        if done:
            cases = Case.objects.in_bulk([c for c in done.values() if c])
            result.update({pk: cases.get(case_id) for pk, case_id in done.items()})
        if not todo:
            return result
        now = timezone.now()
        joins = _threads(todo)
        batch = Batch(todo)
        wards = {place_of(p, batch) for p in todo if joins.case_for(p) is None}
        batch.lock_rotas({w.pk for w in wards if w is not None})
        targets = listening_settings()
        triage = _triage_team()
        new_cases: list[Case] = []
        watchers: list[tuple[Case, list[Any]]] = []
        events: list[CaseEvent] = []
        touched: dict[int, Case] = {}
        for post in todo:
            case = joins.case_for(post)
            if case is not None:
                post.case = case
                post.routed_at = now
                events.append(CaseEvent(case=case, kind=CaseEvent.Kind.POST, post=post, at=now))
                if case.state in {Case.State.WAITING, Case.State.RESOLVED}:
                    events.append(
                        CaseEvent(
                            case=case,
                            kind=CaseEvent.Kind.STATE,
                            at=now,
                            data={"from": case.state, "to": "open"},
                        )
                    )
                    case.state = Case.State.OPEN
                    case.resolved_at = None
                if case.pk is not None:
                    touched[case.pk] = case
                result[post.pk] = case
                continue
            decision = route_post(post, batch)
            if isinstance(decision, Diversion):
                post.ignored = f"diverted to {decision.target}"[:200]
                post.routed_at = now
                result[post.pk] = None
                continue
            start = min(post.posted_at, now)
            case = Case(
                target=decision.target,
                owner=decision.owner,
                team=decision.team or (triage if decision.target == Case.Target.TRIAGE else None),
                ward=decision.ward,
                topic=decision.topic,
                priority=decision.priority,
                network=post.network,
                author_handle=post.author_handle,
                author_id=post.author_id,
                resident_id=decision.resident_id,
                conversation_id=post.conversation_id or post.external_id,
                summary=_summary(post.text),
                trace=decision.trace,
                created_at=now,
                first_response_due=clock.add_working_hours(
                    start,
                    targets.first_response_hours,
                    day_starts=targets.day_starts,
                    day_ends=targets.day_ends,
                ),
                resolution_due=clock.add_working_hours(
                    start,
                    targets.resolution_hours,
                    day_starts=targets.day_starts,
                    day_ends=targets.day_ends,
                ),
            )
            new_cases.append(case)
            watchers.append((case, decision.watchers))
            events.append(
                CaseEvent(
                    case=case,
                    kind=CaseEvent.Kind.CREATED,
                    post=post,
                    at=now,
                )
            )
            post.case = case
            post.routed_at = now
            joins.add(post, case)
            batch.remember(case)
            result[post.pk] = case
        Case.objects.bulk_create(new_cases)
        through = Case.watchers.through
        through.objects.bulk_create(
            [through(case_id=case.pk, councillor_id=w.pk) for case, ws in watchers for w in ws]
        )
        for case in touched.values():
            case.save(update_fields=["state", "resolved_at", "updated_at"])
        for event in events:
            event.case_id = event.case.pk
            event.post_id = event.post.pk if event.post is not None else None
        CaseEvent.objects.bulk_create(events)
        # One plain UPDATE per post sent as a batch (bulk_update's CASE expressions cost more
        # to build than the statements cost to run).
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Post._meta.db_table} SET case_id = %s, routed_at = %s, ignored = %s"  # noqa: S608
                " WHERE id = %s",
                [
                    (p.case.pk if p.case is not None else None, p.routed_at, p.ignored, p.pk)
                    for p in todo
                ],
            )
        batch.save_rotas()
        _publish_cases(
            [(c, "social.case.created", [w.pk for w in ws]) for c, ws in watchers]
            + [(c, "social.case.updated", None) for c in touched.values()]
        )
        owned = [c.pk for c in new_cases if c.owner is not None and c.owner.user_id is not None]
        if owned:
            from .tasks import notify_new_cases

            enqueue(notify_new_cases, owned)
        return result


def _summary(text: str) -> str:
    flat = text.replace("\n", " ")
    return flat[:197] + "…" if len(flat) > 200 else flat


@memo(seconds=10)
def _triage_team() -> Team | None:
    return Team.objects.filter(is_triage=True).order_by("pk").first()


class _Threads:
    """The cases a batch's replies and conversation members join: from the database (read
    once, following merges, locked) and from cases made earlier in the same batch."""

    def __init__(
        self, by_post: dict[tuple[str, str], Case], by_thread: dict[tuple[str, str], Case]
    ):
        self.by_post = by_post
        self.by_thread = by_thread

    def case_for(self, post: Post) -> Case | None:
        if post.in_reply_to_id:
            case = self.by_post.get((post.network, post.in_reply_to_id))
            if case is not None:
                return case
        if post.conversation_id and post.conversation_id != post.external_id:
            return self.by_thread.get((post.network, post.conversation_id))
        return None

    def add(self, post: Post, case: Case) -> None:
        self.by_post[(post.network, post.external_id)] = case
        self.by_thread.setdefault((post.network, case.conversation_id), case)


def _threads(posts: list[Post]) -> _Threads:
    parents = {p.in_reply_to_id for p in posts if p.in_reply_to_id}
    threads = {
        p.conversation_id for p in posts if p.conversation_id and p.conversation_id != p.external_id
    }
    parent_rows = (
        list(
            Post.objects.filter(external_id__in=parents, case__isnull=False).values_list(
                "network", "external_id", "case_id"
            )
        )
        if parents
        else []
    )
    thread_rows = (
        list(
            Case.objects.filter(conversation_id__in=threads)
            .exclude(state=Case.State.CLOSED)
            .order_by("created_at")
            .values_list("network", "conversation_id", "pk")
        )
        if threads
        else []
    )
    wanted = {c for _, _, c in parent_rows} | {c for _, _, c in thread_rows}
    live = _live_cases(wanted)
    by_post = {(n, e): live[c] for n, e, c in parent_rows if c in live}
    by_thread = {(n, t): live[c] for n, t, c in thread_rows if c in live}  # the newest wins
    return _Threads(by_post, by_thread)


def _live_cases(case_ids: set[int]) -> dict[int, Case]:
    """Each case id mapped to the case still in use (merges followed), those locked."""
    if not case_ids:
        return {}
    merged = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "merged_into_id"))
    target: dict[int, int] = {}
    for case_id in case_ids:
        current, seen = case_id, set()
        while merged.get(current) and current not in seen:
            seen.add(current)
            nxt = merged[current]
            if nxt not in merged:
                merged.update(dict(Case.objects.filter(pk=nxt).values_list("pk", "merged_into_id")))
            current = nxt
        target[case_id] = current
    locked = {
        c.pk: c
        for c in Case.objects.select_for_update().filter(pk__in=set(target.values())).order_by("pk")
    }
    return {case_id: locked[t] for case_id, t in target.items() if t in locked}


# --- what people do to a case -------------------------------------------------------------------


def _event(case: Case, kind: str, actor: Any, *, text: str = "", **data: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, actor=actor, text=text, data=data)


def _clean_text(text: str, *, limit: int, field: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CaseError(_("Enter the %(field)s.") % {"field": field})
    if len(text) > limit:
        raise CaseError(
            _("The %(field)s must be %(limit)s characters or fewer; it has %(count)s.")
            % {"field": field, "limit": limit, "count": len(text)}
        )
    try:
        validate_no_markup(text)
    except ValidationError as exc:
        raise CaseError(exc.messages[0]) from None
    return text


def case_reply(*, case: Case, actor: Any, text: str) -> Reply:
    """Queue a reply to the case's latest post from the resident. It is posted by a task after
    commit, or waits for approval when the council asks for it."""
    if not case.is_open:
        raise CaseError(_("Reopen the case before replying."))
    limit = MAX_REPLY.get(case.network, 280)
    text = _clean_text(text, limit=limit, field=_("reply"))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        target = case.posts.filter(is_outbound=False, ignored="").order_by("-posted_at").first()
        if target is None:
            raise CaseError(_("This case has no post from the resident to reply to."))
        approval = listening_settings().replies_need_approval and not getattr(
            actor, "is_council_staff", False
        )
        reply = Reply.objects.create(
            case=case,
            in_reply_to=target,
            text=text,
            author=actor,
            state=Reply.State.AWAITING_APPROVAL if approval else Reply.State.QUEUED,
        )
        _event(case, CaseEvent.Kind.REPLY, actor, text=text, reply=reply.pk, state=reply.state)
        if case.state == Case.State.NEW:
            case.state = Case.State.OPEN
            case.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor,
            action="social.case.reply",
            target=case,
            changes={"reply": reply.pk, "state": reply.state},
        )
        if not approval:
            from .tasks import send_reply

            enqueue(send_reply, reply.pk)
        _publish_case(case, "social.case.updated")
    return reply


def reply_approve(*, reply: Reply, actor: Any) -> Reply:
    if reply.state != Reply.State.AWAITING_APPROVAL:
        raise CaseError(_("This reply is not waiting for approval."))
    with transaction.atomic():
        reply.state = Reply.State.QUEUED
        reply.save(update_fields=["state"])
        _event(
            reply.case,
            CaseEvent.Kind.REPLY,
            actor,
            text=reply.text,
            reply=reply.pk,
            state="approved",
        )
        audit_record(
            actor=actor,
            action="social.reply.approve",
            target=reply.case,
            changes={"reply": reply.pk},
        )
        from .tasks import send_reply

        enqueue(send_reply, reply.pk)
    return reply


def reply_retry(*, reply: Reply, actor: Any) -> Reply:
    if reply.state != Reply.State.FAILED:
        raise CaseError(_("Only a reply that failed can be sent again."))
    with transaction.atomic():
        reply.state = Reply.State.QUEUED
        reply.save(update_fields=["state"])
        audit_record(
            actor=actor, action="social.reply.retry", target=reply.case, changes={"reply": reply.pk}
        )
        from .tasks import send_reply

        enqueue(send_reply, reply.pk)
    return reply


def reply_send(*, reply_id: int, adapter_factory: Any = None) -> Reply:
    """Post a queued reply to the network with the real client (idempotent: a sent reply is
    not sent again). On a network error the reply is marked failed with the reason, shown on
    the case page, where :func:`reply_retry` queues it again."""
    from .clients import PollError, adapter_for

    adapter_factory = adapter_factory or adapter_for
    with transaction.atomic():
        reply = (
            Reply.objects.select_for_update().select_related("case", "in_reply_to").get(pk=reply_id)
        )
        if reply.state != Reply.State.QUEUED and reply.state != Reply.State.FAILED:
            return reply
        source = (
            reply.in_reply_to.source
            or Source.objects.filter(network=reply.case.network, enabled=True).first()
        )
        if source is None:
            reply.state = Reply.State.FAILED
            reply.error = "No listening source for this network to post as."
            reply.save(update_fields=["state", "error"])
            return reply
        reply.attempts += 1
        try:
            external_id = adapter_factory(source).reply(text=reply.text, to=reply.in_reply_to)
        except PollError as exc:
            reply.state = Reply.State.FAILED
            reply.error = str(exc)[:500]
            reply.save(update_fields=["state", "error", "attempts"])
            _event(
                reply.case,
                CaseEvent.Kind.REPLY,
                None,
                text=reply.text,
                reply=reply.pk,
                state="failed",
                error=reply.error,
            )
            return reply
        now = timezone.now()
        reply.state = Reply.State.SENT
        reply.external_id = external_id[:200]
        reply.sent_at = now
        reply.error = ""
        reply.save(update_fields=["state", "external_id", "sent_at", "error", "attempts"])
        try:
            with transaction.atomic():
                Post.objects.create(
                    network=reply.case.network,
                    external_id=external_id[:200],
                    source=source,
                    author_handle=source.account[:200],
                    text=reply.text,
                    posted_at=now,
                    in_reply_to_id=reply.in_reply_to.external_id,
                    conversation_id=reply.in_reply_to.conversation_id,
                    is_outbound=True,
                    ignored="council's own post",
                    case=reply.case,
                    routed_at=now,
                )
        except IntegrityError:
            pass  # already fetched back by a poll
        case = Case.objects.select_for_update().get(pk=reply.case_id)
        if case.first_responded_at is None:
            case.first_responded_at = now
        if case.state == Case.State.NEW:
            case.state = Case.State.OPEN
        case.save()
        _event(
            case,
            CaseEvent.Kind.REPLY,
            None,
            text=reply.text,
            reply=reply.pk,
            state="sent",
            external_id=reply.external_id,
        )
        _publish_case(case, "social.case.updated")
    return reply


def case_note(*, case: Case, actor: Any, text: str) -> CaseEvent:
    text = _clean_text(text, limit=5000, field=_("note"))
    with transaction.atomic():
        event = _event(case, CaseEvent.Kind.NOTE, actor, text=text)
        audit_record(actor=actor, action="social.case.note", target=case)
    return event


_STATE_MOVES = {
    Case.State.NEW: {Case.State.OPEN, Case.State.WAITING, Case.State.RESOLVED, Case.State.CLOSED},
    Case.State.OPEN: {Case.State.WAITING, Case.State.RESOLVED, Case.State.CLOSED},
    Case.State.WAITING: {Case.State.OPEN, Case.State.RESOLVED, Case.State.CLOSED},
    Case.State.RESOLVED: {Case.State.OPEN, Case.State.CLOSED},
    Case.State.CLOSED: {Case.State.OPEN},
}


def case_set_state(*, case: Case, actor: Any, state: str) -> Case:
    if state not in Case.State.values:
        raise CaseError(_("Choose a state from the list."))
    if state == case.state:
        return case
    if state not in _STATE_MOVES[case.state]:
        raise CaseError(
            _("A case that is %(from)s cannot be made %(to)s.")
            % {"from": case.get_state_display(), "to": Case.State(state).label}
        )
    with transaction.atomic():
        before = case.state
        case.state = state
        if state == Case.State.RESOLVED:
            case.resolved_at = timezone.now()
        elif state == Case.State.OPEN:
            case.resolved_at = None
        case.save()
        _event(case, CaseEvent.Kind.STATE, actor, **{"from": before, "to": state})
        audit_record(
            actor=actor, action="social.case.state", target=case, changes={"state": [before, state]}
        )
        _publish_case(case, "social.case.updated")
    return case


def case_assign(
    *,
    case: Case,
    actor: Any,
    owner: Councillor | None,
    team: Team | None,
    watchers: list[Councillor] | None = None,
) -> Case:
    with transaction.atomic():
        before = {"owner": str(case.owner or ""), "team": str(case.team or "")}
        old_streams = set(inbox_streams(case))
        case.owner = owner
        case.team = team
        if owner is not None:
            case.target = Case.Target.COUNCILLOR
        elif team is not None:
            case.target = Case.Target.TEAM
        else:
            case.target = Case.Target.TRIAGE
        case.save()
        if watchers is not None:
            case.watchers.set([w for w in watchers if w != owner])
        after = {"owner": str(owner or ""), "team": str(team or "")}
        _event(case, CaseEvent.Kind.ASSIGN, actor, before=before, after=after)
        audit_record(
            actor=actor,
            action="social.case.assign",
            target=case,
            changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
        _publish_case(case, "social.case.updated")
        html = render_to_string("social/includes/_case_row.html", {"case": case, "live": True})
        for stream in old_streams - set(inbox_streams(case)):
            publish(
                stream=stream,
                event="social.case.moved",
                html=html,
                payload={"case": case.pk, "removed": True},
            )
    return case


def case_set_priority(*, case: Case, actor: Any, priority: int) -> Case:
    if priority not in Case.Priority.values:
        raise CaseError(_("Choose a priority from the list."))
    with transaction.atomic():
        before = case.priority
        case.priority = priority
        case.save(update_fields=["priority", "updated_at"])
        _event(case, CaseEvent.Kind.PRIORITY, actor, **{"from": before, "to": priority})
        audit_record(
            actor=actor,
            action="social.case.priority",
            target=case,
            changes={"priority": [before, priority]},
        )
        _publish_case(case, "social.case.updated")
    return case


def case_set_labels(*, case: Case, actor: Any, labels: list[Label]) -> Case:
    with transaction.atomic():
        before = sorted(case.labels.values_list("name", flat=True))
        case.labels.set(labels)
        after = sorted(label.name for label in labels)
        _event(case, CaseEvent.Kind.LABELS, actor, before=before, after=after)
        audit_record(
            actor=actor,
            action="social.case.labels",
            target=case,
            changes={"labels": [before, after]},
        )
    return case


def case_link(*, case: Case, actor: Any, petition: Any = None, budget_project: Any = None) -> Case:
    """Link the case to a petition and/or a budget project (None unlinks)."""
    with transaction.atomic():
        before = {"petition": case.petition_id, "budget_project": case.budget_project_id}
        case.petition = petition
        case.budget_project = budget_project
        case.save(update_fields=["petition", "budget_project", "updated_at"])
        after = {"petition": case.petition_id, "budget_project": case.budget_project_id}
        _event(
            case,
            CaseEvent.Kind.LINK,
            actor,
            before=before,
            after=after,
            petition=str(petition or ""),
            budget_project=str(budget_project or ""),
        )
        audit_record(
            actor=actor,
            action="social.case.link",
            target=case,
            changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
    return case


def case_merge(*, case: Case, into: Case, actor: Any) -> Case:
    """Merge a duplicate into another case: its posts move over, it is closed and points at
    the case it was merged into, and both histories say so."""
    if case.pk == into.pk:
        raise CaseError(_("A case cannot be merged into itself."))
    if into.merged_into_id is not None:
        raise CaseError(
            _("Case #%(case)s was itself merged; merge into the case it went to.")
            % {"case": into.pk}
        )
    with transaction.atomic():
        moved = Post.objects.filter(case=case).update(case=into)
        Case.objects.filter(merged_into=case).update(merged_into=into)
        case.merged_into = into
        case.state = Case.State.CLOSED
        case.save()
        _event(case, CaseEvent.Kind.MERGE, actor, into=into.pk)
        _event(into, CaseEvent.Kind.MERGE, actor, merged=case.pk, posts=moved)
        audit_record(
            actor=actor,
            action="social.case.merge",
            target=case,
            changes={"into": into.pk, "posts": moved},
        )
        _publish_case(into, "social.case.updated")
    return into


def case_escalate_overdue(*, now=None) -> int:
    """Escalate open cases past a target once each: a history entry and a notification to the
    council's named person. Returns how many were escalated."""
    from django.db.models import Q

    from engagement.notifications.services import notify

    now = now or timezone.now()
    person = listening_settings().escalate_to
    due = Case.objects.filter(
        state__in=[Case.State.NEW, Case.State.OPEN, Case.State.WAITING],
        escalated_at__isnull=True,
    ).filter(
        Q(first_responded_at__isnull=True, first_response_due__lt=now) | Q(resolution_due__lt=now)
    )
    count = 0
    for case_id in list(due.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            if case.escalated_at is not None:
                continue
            case.escalated_at = now
            case.save(update_fields=["escalated_at"])
            _event(
                case, CaseEvent.Kind.ESCALATED, None, to=person.email if person is not None else ""
            )
            if person is not None:
                notify(
                    user=person,
                    kind="social_escalation",
                    subject=_("Case #%(case)s missed its response target") % {"case": case.pk},
                    body=case.summary,
                    url=case.get_absolute_url(),
                )
            count += 1
    return count


def response_due_hours() -> timedelta:
    return timedelta(hours=listening_settings().first_response_hours)


# --- staff configuration ------------------------------------------------------------------------


def config_save(*, form: Any, actor: Any, action: str) -> Any:
    """Save a staff form for a source, routing rule or saved reply, with an audit entry
    (secrets never go into the audit log)."""
    from .routing import rules_forget

    with transaction.atomic():
        created = form.instance.pk is None
        changes = {
            name: str(form.cleaned_data.get(name)) for name in form.changed_data if name != "secret"
        }
        if "secret" in form.changed_data and form.cleaned_data.get("secret"):
            changes["secret"] = "(changed)"  # noqa: S105
        obj = form.save()
        audit_record(
            actor=actor,
            action=f"{action}.{'create' if created else 'update'}",
            target=obj,
            changes=changes,
        )
    rules_forget()
    _own_handles.forget()
    return obj


def gazetteer_import(*, rows: list[dict[str, str]], actor: Any) -> int:
    """Import street and place names from CSV rows (name, ward, kind). All or nothing: any bad
    row raises a ValidationError naming every bad line, and nothing is stored. Names already
    in the gazetteer for that ward are left as they are."""
    from engagement.places.models import Ward

    from .models import GazetteerEntry
    from .routing import gazetteer_forget, normalise_name

    wards: dict[str, int] = {}
    for pk, name, slug, code in Ward.objects.values_list("pk", "name", "slug", "ons_code"):
        for key in (name, slug, code):
            if key:
                wards[key.strip().lower()] = pk
    errors, entries = [], []
    if len(rows) > 50_000:
        raise ValidationError(_("Import 50,000 rows or fewer at a time."))
    for line, row in enumerate(rows, start=2):
        name = row.get("name", "")
        ward_id = wards.get(row.get("ward", "").lower())
        kind = (row.get("kind") or "street").lower()
        if not name or len(name) > 150:
            errors.append(
                _("Line %(line)s: enter a name of 150 characters or fewer.") % {"line": line}
            )
            continue
        try:
            validate_no_markup(name)
        except ValidationError:
            errors.append(
                _("Line %(line)s: the name has HTML or control characters.") % {"line": line}
            )
            continue
        if ward_id is None:
            errors.append(
                _("Line %(line)s: there is no ward called “%(ward)s”.")
                % {"line": line, "ward": row.get("ward", "")}
            )
            continue
        if kind not in GazetteerEntry.Kind.values:
            errors.append(_("Line %(line)s: the kind must be street or place.") % {"line": line})
            continue
        entries.append(
            GazetteerEntry(name=name, normalised=normalise_name(name), kind=kind, ward_id=ward_id)
        )
    if errors:
        raise ValidationError(errors[:20])
    with transaction.atomic():
        before = GazetteerEntry.objects.count()
        GazetteerEntry.objects.bulk_create(entries, ignore_conflicts=True, batch_size=1000)
        added = GazetteerEntry.objects.count() - before
        audit_record(
            actor=actor,
            action="social.gazetteer.import",
            changes={"rows": len(entries), "added": added},
        )
    gazetteer_forget()
    return added


# --- personal data ------------------------------------------------------------------------------


def social_export(user: Any) -> dict[str, Any]:
    """A resident's linked network accounts and the cases made from their posts."""
    from .models import SocialIdentity

    identities = list(SocialIdentity.objects.filter(user=user))
    handles = [(i.network, i.handle) for i in identities]
    from django.db.models import Q

    matching = Q(resident=user)
    for network, handle in handles:
        matching |= Q(network=network, author_handle__iexact=handle)
    cases = Case.objects.filter(matching).prefetch_related("posts").order_by("created_at")
    return {
        "accounts": [
            {
                "network": i.network,
                "handle": i.handle,
                "verified_at": i.verified_at.isoformat() if i.verified_at else None,
            }
            for i in identities
        ],
        "cases": [
            {
                "case": case.pk,
                "state": case.state,
                "created_at": case.created_at.isoformat(),
                "posts": [
                    {"text": p.text, "posted_at": p.posted_at.isoformat(), "url": p.url}
                    for p in case.posts.filter(is_outbound=False).order_by("posted_at")
                ],
            }
            for case in cases
        ],
    }


def social_anonymise(user: Any) -> None:
    """Unlink the resident from their network accounts and cases (the public posts stay, as
    posted on the network, but nothing in Moot points from them to the account)."""
    from .models import SocialIdentity

    SocialIdentity.objects.filter(user=user).delete()
    Case.objects.filter(resident=user).update(resident=None)


def due_digests_notify(*, now=None) -> int:
    """For each councillor with a sign-in account, one notification listing their open cases
    that are overdue or due in the next day (left for their daily digest by default). Those
    with nothing due get nothing. Returns how many were notified."""
    from django.db.models import Q

    from engagement.notifications.services import notify

    now = now or timezone.now()
    soon = now + timedelta(days=1)
    due = (
        Case.objects.filter(
            state__in=[Case.State.NEW, Case.State.OPEN, Case.State.WAITING],
            owner__user__isnull=False,
            merged_into__isnull=True,
        )
        .filter(
            Q(first_responded_at__isnull=True, first_response_due__lt=soon)
            | Q(resolution_due__lt=soon)
        )
        .select_related("owner__user")
        .order_by("owner_id", "first_response_due")
    )
    by_owner: dict[int, list[Case]] = {}
    for case in due:
        by_owner.setdefault(case.owner_id, []).append(case)
    for cases in by_owner.values():
        lines = []
        for case in cases:
            mark = _("OVERDUE") if case.is_overdue else _("due soon")
            lines.append(f"{mark} #{case.pk} {case.summary[:120]}")
        notify(
            user=cases[0].owner.user,
            kind="social_due",
            subject=_("%(count)s social cases due or overdue") % {"count": len(cases)},
            body="\n".join(lines),
            url=str(reverse_lazy("social:inbox")) + "?view=overdue",
        )
    return len(by_owner)


def cases_anonymise_expired(*, now=None) -> int:
    """Daily: cases resolved or closed longer ago than the council keeps social cases
    (``retention_social_case_days``) keep their figures (times, ward, topic, owner, network)
    but lose everything that identifies or quotes the author: the posts' text, links, handles
    and payloads, the summary, the history's text and the link to a resident. Idempotent."""
    from engagement.council.selectors import council_settings

    now = now or timezone.now()
    cutoff = now - timedelta(days=council_settings().retention_social_case_days)
    expired = list(
        Case.objects.filter(
            state__in=[Case.State.RESOLVED, Case.State.CLOSED], updated_at__lt=cutoff
        )
        .exclude(author_handle="")
        .values_list("pk", flat=True)[:5000]
    )
    if not expired:
        return 0
    removed = _("(removed after the retention period)")
    with transaction.atomic():
        Post.objects.filter(case_id__in=expired).update(
            text="",
            url="",
            raw={},
            author_handle="",
            author_name="",
            author_id="",
            lon=None,
            lat=None,
        )
        CaseEvent.objects.filter(case_id__in=expired).exclude(text="").update(text="")
        Reply.objects.filter(case_id__in=expired).update(text=removed)
        # .update() leaves updated_at alone, so a case is not kept alive by being anonymised.
        Case.objects.filter(pk__in=expired).update(
            summary=removed, author_handle="", author_id="", resident=None, trace=[]
        )
        audit_record(actor=None, action="social.retention", changes={"cases": len(expired)})
    return len(expired)
