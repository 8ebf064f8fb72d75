"""Routing stored posts into cases, in batches (see the package docstring and ADR 0009)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from engagement.core.memo import memo
from engagement.tasks import enqueue
from social import clock
from social.models import (
    Case,
    CaseEvent,
    Post,
    Team,
)
from social.routing import Diversion, place_of, route_post

from .common import _publish_cases, listening_settings, logger


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
    from social.routing import Batch

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
            from social.tasks import notify_new_cases

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
