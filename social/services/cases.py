"""What councillors and staff do to a case, and the scheduled jobs over cases: escalation,
the daily digest of due cases, anonymising cases past retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record
from engagement.core.validators import validate_no_markup
from engagement.people.models import Councillor
from engagement.realtime.services import publish
from engagement.realtime.streams import template
from engagement.tasks import enqueue
from social.models import (
    Case,
    CaseEvent,
    Label,
    Post,
    Reply,
    Source,
    Team,
)

from .common import (
    MAX_REPLY,
    CaseError,
    _publish_case,
    inbox_streams,
    listening_settings,
)

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
            from social.tasks import send_reply

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
        from social.tasks import send_reply

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
        from social.tasks import send_reply

        enqueue(send_reply, reply.pk)
    return reply


def reply_send(*, reply_id: int, adapter_factory: Any = None) -> Reply:
    """Post a queued reply to the network with the real client (idempotent: a sent reply is
    not sent again). On a network error the reply is marked failed with the reason, shown on
    the case page, where :func:`reply_retry` queues it again."""
    from social.clients import PollError, adapter_for

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
        row = template("social/includes/_case_row.html", {"case": case, "live": True})
        for stream in old_streams - set(inbox_streams(case)):
            publish(
                stream=stream,
                event="social.case.moved",
                render=row,
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
