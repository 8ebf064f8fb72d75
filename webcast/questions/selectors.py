"""Reads for the question feed: settings, whether questions are open, the feed in its orders,
the moderation queue, the chair's view, and the stream snapshots."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from engagement.core.memo import memo
from engagement.people.models import Membership
from engagement.realtime.streams import Render, template
from webcast.models import Meeting

from .models import FlagWord, Question, QuestionSettings, Vote

S = Question.State
ORDERS = ("top", "newest")
FEED_LIMIT = 300


def public_stream(meeting: Meeting) -> str:
    return f"questions.{meeting.pk}"


def staff_stream(meeting: Meeting) -> str:
    return f"questions-mod.{meeting.pk}"


def councillor_stream(meeting: Meeting, *, can_chair: bool) -> str:
    """The chair's view for councillors: ``questions-chair.<meeting>`` with the chair's buttons
    (the committee's chair and vice-chair), ``questions-members.<meeting>`` read-only (its
    other members). Public names only: who asked is for staff."""
    return f"questions-{'chair' if can_chair else 'members'}.{meeting.pk}"


CHAIRS = (Membership.Role.CHAIR, Membership.Role.VICE_CHAIR)


def committee_role(user: Any, meeting: Meeting) -> str:
    """The role (``chair``, ``vice-chair``, ``member``) on the meeting's committee of the serving
    councillor whose sign-in account ``user`` is, by today's membership dates; "" for anyone
    else (residents, staff without a councillor record, councillors of other committees)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ""
    today = timezone.localdate()
    role = (
        Membership.objects.filter(
            committee_id=meeting.committee_id, councillor__user=user, councillor__is_active=True
        )
        .filter(Q(start_date__isnull=True) | Q(start_date__lte=today))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .values_list("role", flat=True)
        .first()
    )
    return role or ""


def _may_watch_councillor_stream(user: Any, key: str, *, chairs_only: bool) -> bool:
    from engagement.core.permissions import has_staff_access

    if has_staff_access(user):
        return True
    meeting = Meeting.objects.filter(pk=int(key)).first() if key.isdigit() else None
    if meeting is None:
        return False
    role = committee_role(user, meeting)
    return role in CHAIRS if chairs_only else bool(role)


def may_watch_chair_stream(user: Any, key: str) -> bool:
    """``questions-chair.<meeting>``: staff, and the committee's chair and vice-chair."""
    return _may_watch_councillor_stream(user, key, chairs_only=True)


def may_watch_members_stream(user: Any, key: str) -> bool:
    """``questions-members.<meeting>``: staff, and every serving member of the committee."""
    return _may_watch_councillor_stream(user, key, chairs_only=False)


@memo(seconds=5)
def _settings(meeting_id: int) -> QuestionSettings:
    return QuestionSettings.objects.filter(meeting_id=meeting_id).first() or QuestionSettings(
        meeting_id=meeting_id
    )


def settings_for(meeting: Meeting) -> QuestionSettings:
    """The meeting's settings (the defaults if staff never changed them); kept five seconds
    per process, as a change of settings may take that long to reach every server."""
    return _settings(meeting.pk)


def settings_forget() -> None:
    _settings.forget()  # type: ignore[attr-defined]


@memo(seconds=30)
def flag_words() -> list[str]:
    return [w.strip() for w in FlagWord.objects.values_list("word", flat=True) if w.strip()]


def closed_reason(meeting: Meeting) -> str:
    """Why the meeting takes no questions now ("" when it does)."""
    if meeting.status in {Meeting.Status.ENDED, Meeting.Status.ARCHIVED}:
        return _("This meeting has ended: it no longer takes questions.")
    settings = settings_for(meeting)
    if not settings.accepting:
        return _("Questions for this meeting are closed.")
    if settings.closes_at and settings.closes_at <= timezone.now():
        return _("Questions for this meeting closed at %(time)s.") % {
            "time": timezone.localtime(settings.closes_at).strftime("%H:%M on %d %B %Y")
        }
    if not meeting.items.exists():
        return _("Questions open when the agenda is published.")
    return ""


def status_context(meeting: Meeting) -> dict[str, Any]:
    return {"meeting": meeting, "closed": closed_reason(meeting), "settings": settings_for(meeting)}


def feed(
    meeting: Meeting, *, order: str = "top", item_id: int | None = None, user: Any = None
) -> list[Question]:
    """Approved, now answering and answered questions, ``top`` (most votes) or ``newest``
    first, optionally of one agenda item; ``voted`` is set on each for ``user``."""
    qs: QuerySet[Question] = Question.objects.filter(
        meeting=meeting, state__in=Question.PUBLIC_STATES
    ).select_related("item")
    if item_id is not None:
        qs = qs.filter(item_id=item_id)
    qs = (
        qs.order_by("-created_at", "-pk")
        if order == "newest"
        else qs.order_by("-vote_count", "created_at", "pk")
    )
    if getattr(user, "is_authenticated", False):
        qs = qs.annotate(voted=Exists(Vote.objects.filter(question=OuterRef("pk"), user=user)))
    return list(qs[:FEED_LIMIT])


def list_id(order: str, item_id: int | None) -> str:
    """The element id of a feed list, so pushes can add a new question to every list showing it."""
    return f"questions-{order}-{'item-' + str(item_id) if item_id else 'all'}"


def my_waiting(meeting: Meeting, user: Any) -> list[Question]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Question.objects.filter(
            meeting=meeting, author=user, state__in=[S.PENDING, S.REJECTED, S.HIDDEN]
        ).order_by("-created_at")[:20]
    )


def now_answering(meeting: Meeting) -> Question | None:
    return (
        Question.objects.filter(meeting=meeting, state=S.ANSWERING)
        .select_related("item")
        .order_by("-answering_at")
        .first()
    )


def now_context(meeting: Meeting) -> dict[str, Any]:
    return {"meeting": meeting, "now": now_answering(meeting)}


def answered(meeting: Meeting) -> list[Question]:
    """Answered questions in the order they were taken (for the archive's links)."""
    return list(
        Question.objects.filter(meeting=meeting, state=S.ANSWERED, answering_at__isnull=False)
        .select_related("item")
        .order_by("answering_at", "pk")
    )


def public_count(meeting: Meeting) -> int:
    return Question.objects.filter(meeting=meeting, state__in=Question.PUBLIC_STATES).count()


# --- staff ---------------------------------------------------------------------------------------


def queue(meeting: Meeting) -> list[Question]:
    """Questions waiting for moderation, oldest first (flagged ones are marked, not reordered)."""
    return list(
        Question.objects.filter(meeting=meeting, state=S.PENDING)
        .select_related("item", "author")
        .order_by("created_at", "pk")
    )


def moderated(meeting: Meeting, *, states: tuple[str, ...]) -> list[Question]:
    return list(
        Question.objects.filter(meeting=meeting, state__in=states)
        .select_related("item", "author", "merged_into")
        .order_by("-vote_count", "created_at", "pk")[:FEED_LIMIT]
    )


CHAIR_LIMIT = 25
"""Approved questions in the chair's live panels, from the top: a chair takes questions in that
order, and re-rendering hundreds with their buttons every second (as votes change the order) cost
a quarter of a second of CPU a tick. The rest are counted under the list; staff find every one
on the moderation page's full list."""
ANSWERED_LIMIT = 10
"""The most recently answered questions in the chair's panels."""


def chair_questions(meeting: Meeting, *, limit: int | None) -> list[Question]:
    """Approved questions for the chair: the current item's first, then questions on no item,
    then the rest; most votes first within each (the first ``limit``, or all with None)."""
    current = meeting.current_item_id
    rank = Case(
        When(item_id=current or 0, then=Value(0)),
        When(item__isnull=True, then=Value(1)),
        default=Value(2),
    )
    questions = (
        Question.objects.filter(meeting=meeting, state=S.APPROVED)
        .select_related("item", "author", "merged_into")
        .order_by(rank, "-vote_count", "created_at", "pk")
    )
    return list(questions if limit is None else questions[:limit])


def staff_context(meeting: Meeting) -> dict[str, Any]:
    """Everything the staff panels re-rendered on each push need."""
    meeting = Meeting.objects.select_related("current_item", "committee").get(pk=meeting.pk)
    counts = dict(
        Question.objects.filter(meeting=meeting, state__in=(S.PENDING, S.APPROVED, S.ANSWERED))
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    chair = chair_questions(meeting, limit=CHAIR_LIMIT)
    answered = list(
        Question.objects.filter(meeting=meeting, state=S.ANSWERED).order_by(
            F("answering_at").desc(nulls_last=True), "-pk"
        )[:ANSWERED_LIMIT]
    )
    return {
        "meeting": meeting,
        "chair_questions": chair,
        "chair_more": counts.get(S.APPROVED, 0) - len(chair),
        "now": now_answering(meeting),
        "pending_count": counts.get(S.PENDING, 0),
        "answered_list": answered[::-1],
        "answered_more": counts.get(S.ANSWERED, 0) - len(answered),
    }


# --- snapshots (coalesced votes) -----------------------------------------------------------------


def vote_count_html(pk: int, count: int, *, oob: bool = False) -> str:
    """A question's vote count as shown in the feed, and as pushed out of band (``oob``): the
    one rendering of it (the feed's template uses it through ``{% vote_count %}``). Built
    directly, not through a template: the vote snapshot holds one for every public question,
    every second, in each language."""
    label = ngettext("%(counter)s vote", "%(counter)s votes", count) % {"counter": count}
    swap = ' hx-swap-oob="true"' if oob else ""
    return (
        f'<span id="question-{int(pk)}-votes" class="moot-question__count" '
        f'data-count="{int(count)}"{swap}>{escape(label)}</span>'
    )


def votes_snapshot(key: str) -> tuple[str, Render, dict[str, Any]] | None:
    """``questions.<meeting>``: the vote counts that changed since the last snapshot (those
    marked ``votes_dirty``, which it clears), as out-of-band spans; None if none did.

    Only what changed: a page shows every count as it was when it was rendered, from the same
    database snapshot as its sequence marker (``engagement.realtime.pages.live_page``), and each
    later event brings every count changed since the one before it. The stream's counter is
    locked while this runs (``snapshot_publish``), so two snapshots never cross; a question
    another transaction holds is skipped, still marked, for the next one."""
    table = Question._meta.db_table
    states = list(Question.PUBLIC_STATES)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET votes_dirty = false WHERE id IN ("  # noqa: S608 - our table
                f"  SELECT id FROM {table} WHERE meeting_id = %s AND votes_dirty"
                "   FOR UPDATE SKIP LOCKED"
                ") RETURNING id, vote_count, state",
                [int(key)],
            )
            rows = cursor.fetchall()
    else:
        dirty = Question.objects.filter(meeting_id=int(key), votes_dirty=True)
        rows = list(dirty.values_list("pk", "vote_count", "state"))
        dirty.update(votes_dirty=False)
    counts = sorted((pk, count) for pk, count, state in rows if state in states)
    if not counts:
        return None

    def render() -> str:
        return "".join(vote_count_html(pk, count, oob=True) for pk, count in counts)

    return "questions.votes", render, {"votes": {str(k): v for k, v in counts}}


def chair_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """``questions-mod.<meeting>``: the chair's list and the approved list, re-rendered."""
    return "questions.staff", panels(key), {}


def councillor_chair_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """``questions-chair.<meeting>``: the chair's panels with their buttons."""
    return "questions.chair", panels(key, councillor=True), {}


def councillor_members_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """``questions-members.<meeting>``: the chair's panels, read-only."""
    return "questions.chair", panels(key, councillor=True, can_chair=False), {}


def panels(key: str, *, councillor: bool = False, can_chair: bool = True) -> Render:
    """The chair's panels (now answering, the approved list, answered) as pushed out of band:
    for staff, or for councillors (public names; the chair's two buttons when ``can_chair``).
    Read now; the callable renders them (in each language)."""
    context = staff_context(Meeting(pk=int(key)))
    return template(
        "questions/staff/includes/_panels.html",
        context | {"oob": True, "councillor": councillor, "read_only": not can_chair},
    )
