"""Routing stored posts into cases, in batches (see the package docstring and ADR 0009)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from engagement.core.memo import also_forget, memo
from engagement.tasks import enqueue
from social import clock
from social.models import (
    Case,
    CaseEvent,
    LiveChange,
    Post,
    Team,
)
from social.routing import Diversion

from .common import _publish_cases, listening_settings, logger

DRAIN = 200
"""Posts one routing transaction takes at most when it drains the backlog (see
:func:`posts_route`): larger batches cost less a post (the live events are one per inbox per
batch), smaller ones keep each post's wait short."""


def post_route(*, post_id: int) -> Case | None:
    """Route one stored post (see :func:`posts_route`); its case, or None for an ignored or
    diverted post."""
    return posts_route(post_ids=[post_id]).get(post_id)


def posts_route(*, post_ids: list[int], drain: int = 0) -> dict[int, Case | None]:
    """Route stored posts: each joins the case of the post it replies to (or its conversation's
    open case), or gets a new case where routing says. One transaction for the batch, with the
    posts locked: idempotent, and safe to run on overlapping batches at once. If the batch
    fails, each post is tried on its own, so one bad post cannot hold up the others.

    With ``drain`` (the routing task, and the poller when routing falls behind) the batch also
    takes the oldest other unrouted posts, up to ``drain`` posts in all, and leaves any post
    another worker has locked to that worker: under a flood, each worker routes whatever is
    waiting in one transaction instead of queueing page after page, and two workers never
    wait for each other's posts."""
    ids = sorted(set(post_ids))
    try:
        return _route_batch(ids, drain=drain)
    except Exception:
        if len(ids) <= 1 and not drain:
            raise
        logger.exception("Routing a batch of %s posts failed; routing them one by one", len(ids))
    if drain:
        waiting = Post.objects.filter(routed_at__isnull=True).exclude(pk__in=_failing)
        ids = sorted(set(ids) | set(waiting.order_by("pk").values_list("pk", flat=True)[:drain]))
    routed: dict[int, Case | None] = {}
    for post_id in ids:
        try:
            routed.update(_route_batch([post_id]))
        except Exception:
            # Left unrouted (the sweep tries again) and out of this process's drains, so it
            # does not fail every batch after it.
            _failing.add(post_id)
            logger.exception("Routing post %s failed", post_id)
    return routed


_failing: set[int] = set()
"""Posts this process failed to route on their own: drains leave them out."""
also_forget(_failing.clear)


def drain_size() -> int:
    """``DRAIN``, or the ``SOCIAL_ROUTE_DRAIN`` setting (tests that kill a worker part way
    through routing set it small)."""
    return int(getattr(settings, "SOCIAL_ROUTE_DRAIN", DRAIN))


def unrouted_count() -> int:
    """Posts stored and waiting to be routed (the poller's back-pressure)."""
    return Post.objects.filter(routed_at__isnull=True).count()


def _route_batch(post_ids: list[int], *, drain: int = 0) -> dict[int, Case | None]:
    """Route a batch in one transaction, in three steps so that the rows every batch shares
    (the wards' rotas) are locked only for the writes at the end: decide every post (joins,
    place, topic, due times) with only the batch's posts and joined cases locked; lock the
    rotas of the wards found and take their turns; write. The live events are published a
    moment later, for every batch routed meanwhile at once (:func:`live_publish_pending`)."""
    from social.routing import Batch, assign, decide

    result: dict[int, Case | None] = {}
    with transaction.atomic():
        # The raw payload is not needed to route, and decoding it cost more than the rest of
        # the row.
        locked = Post.objects.select_for_update(skip_locked=bool(drain)).defer("raw")
        posts = list(locked.filter(pk__in=post_ids).order_by("pk"))
        waiting = sum(1 for p in posts if p.routed_at is None)
        if drain > waiting:
            posts += list(
                locked.filter(routed_at__isnull=True)
                .exclude(pk__in=[*post_ids, *_failing])
                .order_by("pk")[: drain - waiting]
            )
        done = {p.pk: p.case_id for p in posts if p.routed_at is not None}
        todo = sorted((p for p in posts if p.routed_at is None), key=lambda p: (p.posted_at, p.pk))
        if done:
            cases = Case.objects.in_bulk([c for c in done.values() if c])
            result.update({pk: cases.get(case_id) for pk, case_id in done.items()})
        if not todo:
            return result
        now = timezone.now()
        joins = _threads(todo)
        batch = Batch(todo)
        targets = listening_settings()
        new: list[tuple[Post, Case, Any]] = []
        events: list[CaseEvent] = []
        touched: dict[int, Case] = {}
        # 1. Decide every post: no row that other batches need is locked yet.
        for post in todo:
            case = joins.case_for(post)
            if case is not None:
                post.case = case
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
            decision = decide(post, batch)
            if isinstance(decision, Diversion):
                post.ignored = f"diverted to {decision.target}"[:200]
                result[post.pk] = None
                continue
            start = min(post.posted_at, now)
            case = Case(
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
            new.append((post, case, decision))
            events.append(CaseEvent(case=case, kind=CaseEvent.Kind.CREATED, post=post, at=now))
            post.case = case
            joins.add(post, case)
            batch.remember(case)
            result[post.pk] = case
        # 2. Take the rota turns, the wards locked in ward order, in the posts' order.
        batch.lock_rotas({route.ward.pk for _, _, route in new if route.ward is not None})
        triage = _triage_team()
        watchers: list[tuple[Case, list[Any]]] = []
        for _, case, route in new:
            assign(route, batch)
            case.target = route.target
            case.owner = route.owner
            case.team = route.team or (triage if route.target == Case.Target.TRIAGE else None)
            watchers.append((case, route.watchers))
        # 3. Write.
        Case.objects.bulk_create([case for _, case, _ in new])
        named = [case for _, case, route in new if route.earlier]
        for _, _, route in new:
            route.fill_earlier()
        if named:
            Case.objects.bulk_update(named, ["trace"])
        through = Case.watchers.through
        through.objects.bulk_create(
            [through(case_id=case.pk, councillor_id=w.pk) for case, ws in watchers for w in ws]
        )
        if touched:
            for case in touched.values():
                case.updated_at = now
            Case.objects.bulk_update(list(touched.values()), ["state", "resolved_at", "updated_at"])
        for event in events:
            event.case_id = event.case.pk
            event.post_id = event.post.pk if event.post is not None else None
        CaseEvent.objects.bulk_create(events)
        batch.save_rotas()
        changes = [LiveChange(case_id=c.pk, created=True) for _, c, _ in new] + [
            LiveChange(case_id=pk) for pk in touched
        ]
        if changes:
            LiveChange.objects.bulk_create(changes)
            _live_soon()
        owned = [c.pk for _, c, _ in new if c.owner is not None and c.owner.user_id is not None]
        if owned:
            from social.tasks import notify_new_cases

            enqueue(notify_new_cases, owned)
        # The last write, then the commit. ``routed_at`` is taken now, when the cases are
        # written, so it says when the post's case came to exist. One plain UPDATE per post sent
        # as a batch (bulk_update's CASE expressions cost more to build than they cost to run).
        routed_at = timezone.now()
        for post in todo:
            post.routed_at = routed_at
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Post._meta.db_table} SET case_id = %s, routed_at = %s, ignored = %s"  # noqa: S608
                " WHERE id = %s",
                [
                    (p.case.pk if p.case is not None else None, p.routed_at, p.ignored, p.pk)
                    for p in todo
                ],
            )
    return result


LIVE_CLAIM = "social:live-now"
LIVE_TRAIL = "social:live-trail"


def _live_tick() -> float:
    return float(getattr(settings, "REALTIME_TICK_SECONDS", 1.0))


def _live_soon() -> None:
    """Once the routing commits, publish the waiting live changes at most once a tick: the
    first batch in a tick publishes them at once (in this process, after its commit); a later
    batch in the same tick queues one job for a tick later, which catches what is left. (If
    that job is lost, the unrouted sweep publishes what waits.)"""

    def publish() -> None:
        from django.core.cache import cache

        from social.tasks import publish_live

        tick = max(1, round(_live_tick()))
        if cache.add(LIVE_CLAIM, 1, timeout=tick):
            live_publish_pending()
        elif cache.add(LIVE_TRAIL, 1, timeout=tick):
            publish_live.apply_async(countdown=tick)

    transaction.on_commit(publish, robust=True)


def live_publish_pending(*, limit: int = 5000) -> int:
    """Publish the live events of every routed case waiting (see :class:`LiveChange`): each
    case's row rendered once, one event per inbox for them all. Returns how many changes were
    published."""
    with transaction.atomic():
        rows = list(
            LiveChange.objects.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "case_id", "created")[:limit]
        )
        if not rows:
            return 0
        created = {case_id for _, case_id, is_new in rows if is_new}
        ids = list(dict.fromkeys(case_id for _, case_id, _ in rows))
        cases = (
            Case.objects.select_related("owner", "team", "ward")
            .defer("ward__boundary")
            .in_bulk(ids)
        )
        watchers: dict[int, list[int]] = {}
        for case_id, councillor_id in Case.watchers.through.objects.filter(
            case_id__in=ids
        ).values_list("case_id", "councillor_id"):
            watchers.setdefault(case_id, []).append(councillor_id)
        _publish_cases(
            [
                (
                    cases[pk],
                    "social.case.created" if pk in created else "social.case.updated",
                    watchers.get(pk, []),
                )
                for pk in ids
                if pk in cases
            ]
        )
        LiveChange.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return len(rows)


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
        for c in Case.objects.select_for_update(of=("self",))
        .select_related("owner", "team", "ward")
        .defer("ward__boundary")
        .filter(pk__in=set(target.values()))
        .order_by("pk")
    }
    return {case_id: locked[t] for case_id, t in target.items() if t in locked}
