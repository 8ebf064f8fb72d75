"""Reads for consultations: lists, the questionnaire and its pages, counts, the response browser."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from engagement.core.memo import memo
from engagement.realtime.streams import Render, template

from .answers import CHOICE_KINDS, TEXT_KINDS
from .conditions import Item, items_for, visible_keys
from .models import Answer, Consultation, Question, Response, Section, Version


def published() -> QuerySet[Consultation]:
    return Consultation.objects.filter(published_at__isnull=False)


def public_list() -> dict[str, list[Consultation]]:
    """Published consultations grouped by phase, for the list page."""
    now = timezone.now()
    groups: dict[str, list[Consultation]] = {
        Consultation.Phase.OPEN: [],
        Consultation.Phase.FORTHCOMING: [],
        Consultation.Phase.CLOSED: [],
        Consultation.Phase.OUTCOME: [],
    }
    for consultation in published().order_by("closes_at", "pk")[:500]:
        groups[consultation.phase_at(now)].append(consultation)
    groups[Consultation.Phase.CLOSED].reverse()
    groups[Consultation.Phase.OUTCOME].reverse()
    return groups


def count_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """The staff-only ``consultation.<id>`` stream's state: responses so far."""
    consultation = Consultation.objects.only("response_count").get(pk=int(key))
    render = template("consultations/staff/includes/_count.html", {"consultation": consultation})
    return "consultation.count", render, {"count": consultation.response_count}


def home_consultations(request: Any = None) -> list[Consultation]:
    now = timezone.now()
    return list(published().filter(opens_at__lte=now, closes_at__gt=now).order_by("closes_at")[:5])


def questions(version: Version | int) -> list[Question]:
    """Every question of a version in questionnaire order, each with its section."""
    version_id = version if isinstance(version, int) else version.pk
    return list(
        Question.objects.filter(section__version_id=version_id)
        .select_related("section")
        .order_by("section__position", "section__pk", "position", "pk")
    )


@memo(seconds=5, size=256)
def questionnaire(version_id: int) -> list[Question]:
    """:func:`questions`, kept five seconds per process, for the respondents' busy path (each
    page reads the questionnaire several times). The builder's services call ``forget()`` after
    a change (other processes catch up within five seconds); they read :func:`questions`."""
    return questions(version_id)


def sections_with_questions(version: Version) -> list[Section]:
    return list(
        version.sections.order_by("position", "pk").prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("position", "pk"))
        )
    )


def pages(consultation: Consultation, qs: list[Question]) -> list[list[Question]]:
    """The questionnaire cut into pages: one question each, or one section each."""
    if consultation.layout == Consultation.Layout.QUESTION:
        return [[q] for q in qs]
    by_section: dict[int, list[Question]] = {}
    for q in qs:
        by_section.setdefault(q.section_id, []).append(q)
    return list(by_section.values())


def visible_page_indexes(
    page_list: list[list[Question]], items: list[Item], answers: dict[str, Any]
) -> list[int]:
    shown = set(visible_keys(items, answers))
    return [i for i, page in enumerate(page_list) if any(q.key in shown for q in page)]


def check_answers(response: Response) -> list[dict[str, Any]]:
    """The rows of "Check your answers": every question shown, its answer and its page."""
    from .answers import display

    qs = questionnaire(response.version_id)
    page_list = pages(response.consultation, qs)
    page_of = {q.key: i for i, page in enumerate(page_list) for q in page}
    shown = visible_keys(items_for(qs), response.draft)
    by_key = {q.key: q for q in qs}
    return [
        {
            "question": by_key[key],
            "value": display(by_key[key], response.draft.get(key)),
            "page": page_of[key] + 1,
        }
        for key in shown
    ]


def condition_hint(question: Question, by_key: dict[str, Question]) -> str:
    """ "Answer only if …" for a conditional question shown on a page with the question it
    depends on (one page per section, without JavaScript)."""
    from django.utils.translation import gettext as _

    condition = question.condition
    if not condition or condition.get("question") not in by_key:
        return ""
    other = by_key[condition["question"]]
    labels = dict(other.choices) if other.choices else {"yes": _("agreed")}
    chosen = " / ".join(labels.get(v, v) for v in condition.get("values", []))
    return _("Answer this only if you answered “%(answer)s” to “%(question)s”.") % {
        "answer": chosen,
        "question": other.display_text,
    }


def version_has_responses(version: Version) -> bool:
    return Response.objects.filter(version=version).exists()


# --- analysis -----------------------------------------------------------------------------------


def submitted(consultation: Consultation) -> QuerySet[Response]:
    return consultation.responses.filter(state=Response.State.SUBMITTED)


def browse(consultation: Consultation, filters: dict[str, Any]) -> QuerySet[Response]:
    """Submitted responses filtered by channel, ward, date, version, words in an answer, theme."""
    found = submitted(consultation).select_related("ward", "version")
    if filters.get("channel"):
        found = found.filter(channel=filters["channel"])
    if filters.get("ward"):
        found = found.filter(ward__slug=filters["ward"])
    if filters.get("since"):
        found = found.filter(submitted_at__date__gte=filters["since"])
    if filters.get("until"):
        found = found.filter(submitted_at__date__lte=filters["until"])
    if filters.get("words"):
        found = found.filter(answers__text__icontains=filters["words"]).distinct()
    if filters.get("theme"):
        found = found.filter(answers__theme_tags__theme_id=filters["theme"]).distinct()
    return found.order_by("-submitted_at", "-pk")


def question_counts(
    consultation: Consultation, filters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """For each closed question of every version (by key, current wording): how many chose each
    option, as rows for a table and a bar chart. Ranking counts first preferences and the mean
    rank; matrix counts each row's columns. ``filters`` (as :func:`browse` takes them) count only
    some responses: one ward's, one channel's, a period's."""
    version = consultation.current_version
    if version is None:
        return []
    chosen = browse(consultation, filters).values("pk") if filters else None
    result = []
    for question in questions(version):
        if question.kind not in CHOICE_KINDS or question.section.equality:
            continue
        values = Answer.objects.filter(
            response__consultation=consultation,
            response__state=Response.State.SUBMITTED,
            question__key=question.key,
        )
        if chosen is not None:
            values = values.filter(response__in=chosen)
        result.append(_count(question, values.values_list("value", flat=True).iterator(2000)))
    return result


def _count(question: Question, values: Iterator[Any]) -> dict[str, Any]:
    counter: Counter[str] = Counter()
    rank_sum: Counter[str] = Counter()
    matrix: dict[str, Counter[str]] = {row: Counter() for row, _label in question.row_choices}
    answered = 0
    for value in values:
        answered += 1
        if question.kind == Question.Kind.MULTIPLE:
            counter.update(value)
        elif question.kind == Question.Kind.RANKING:
            counter[value[0]] += 1
            for n, option in enumerate(value, 1):
                rank_sum[option] += n
        elif question.kind == Question.Kind.MATRIX:
            for row, column in value.items():
                matrix.setdefault(row, Counter())[column] += 1
        else:
            counter[value] += 1
    rows = [
        {
            "value": value,
            "label": label,
            "count": counter[value],
            "percent": round(100 * counter[value] / answered) if answered else 0,
            "mean_rank": round(rank_sum[value] / answered, 2)
            if answered and question.kind == Question.Kind.RANKING
            else None,
        }
        for value, label in question.choices
    ]
    return {
        "question": question,
        "answered": answered,
        "rows": rows,
        "matrix": [
            {"label": label, "counts": [matrix[row][value] for value, _l in question.choices]}
            for row, label in question.row_choices
        ],
    }


def equality_counts(consultation: Consultation) -> list[dict[str, Any]]:
    """Totals of the equality-monitoring answers (never per response)."""
    version = consultation.current_version
    if version is None:
        return []
    equality_questions = [
        q for q in questions(version) if q.section.equality and q.kind in CHOICE_KINDS
    ]
    if not equality_questions:
        return []
    records = consultation.equality_records.values_list("answers", flat=True)
    by_key: dict[str, list[Any]] = {q.key: [] for q in equality_questions}
    for answers in records.iterator(chunk_size=2000):
        for key, value in answers.items():
            if key in by_key:
                by_key[key].append(value)
    return [_count(q, iter(by_key[q.key])) for q in equality_questions]


def free_text_answers(consultation: Consultation, question: Question) -> QuerySet[Answer]:
    return (
        Answer.objects.filter(
            response__consultation=consultation,
            response__state=Response.State.SUBMITTED,
            question__key=question.key,
        )
        .exclude(text="")
        .select_related("response")
        .prefetch_related("theme_tags__theme")
        .order_by("pk")
    )


def text_questions(consultation: Consultation) -> list[Question]:
    if consultation.current_version is None:
        return []
    return [q for q in questions(consultation.current_version) if q.kind in TEXT_KINDS]


def theme_counts(consultation: Consultation) -> QuerySet:
    return consultation.themes.annotate(answers=Count("tags")).order_by("-answers", "name")


def channel_counts(consultation: Consultation) -> list[tuple[str, int]]:
    labels = dict(Response.Channel.choices)
    rows = (
        submitted(consultation).values_list("channel").annotate(n=Count("pk")).order_by("channel")
    )
    return [(labels.get(channel, channel), n) for channel, n in rows]


def respondents_for_outcome(consultation: Consultation) -> QuerySet[Response]:
    return submitted(consultation).filter(
        Q(wants_outcome=True), ~Q(email=""), outcome_sent_at__isnull=True
    )
