"""Template side of the question feed: where a pushed question goes, and the panels other
pages include (the meeting page, the control room)."""

from typing import Any

from django import template
from django.utils.safestring import mark_safe

from webcast.questions import selectors
from webcast.questions.models import Question

register = template.Library()


@register.filter
def push_targets(question: Question) -> list[tuple[str, str]]:
    """Every feed list a new question belongs in, with where it goes in each: the end of the
    "most votes" lists (it has the fewest), the start of the "newest" ones."""
    items = [None] + ([question.item_id] if question.item_id else [])
    return [
        (selectors.list_id(order, item), "beforeend" if order == "top" else "afterbegin")
        for order in selectors.ORDERS
        for item in items
    ]


@register.simple_tag
def vote_count(pk: int, count: int) -> str:
    """A question's vote count (see :func:`webcast.questions.selectors.vote_count_html`)."""
    return mark_safe(selectors.vote_count_html(pk, count))  # noqa: S308 - built with escape()


@register.inclusion_tag("questions/includes/_meeting_panel.html", takes_context=True)
def questions_panel(context: Any, meeting: Any) -> dict[str, Any]:
    """On the meeting page: how to ask, or (afterwards) the answered questions with links to
    the moment in the recording."""
    return {
        "meeting": meeting,
        "closed": selectors.closed_reason(meeting),
        "count": selectors.public_count(meeting),
        "answered": selectors.answered(meeting) if not meeting.is_on_air else [],
        "hls_url": context.get("hls_url", ""),
        "stream": selectors.public_stream(meeting),
        **selectors.now_context(meeting),
    }


@register.inclusion_tag("questions/staff/includes/_control_links.html")
def questions_staff_links(meeting: Any) -> dict[str, Any]:
    """In the control room: the moderation queue and the chair's view."""
    return {
        "meeting": meeting,
        "pending": Question.objects.filter(meeting=meeting, state=Question.State.PENDING).count(),
    }
