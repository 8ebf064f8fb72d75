"""What the other service modules share: the council's listening settings, the error they
raise, and publishing case rows to the live inboxes."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils import translation

from engagement.core.memo import memo
from engagement.realtime.services import publish
from social.models import (
    Case,
    ListeningSettings,
    Source,
)

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
    # One template render for the batch in each language (a render per row costs more than the
    # row), split into rows.
    separator = "<!-- moot:row -->"
    rendered: dict[str | None, dict[int, str]] = {}

    def rows() -> dict[int, str]:
        language = translation.get_language()
        if language not in rendered:
            html = render_to_string(
                "social/includes/_case_rows_live.html", {"cases": unique, "separator": separator}
            )
            rendered[language] = dict(
                zip([c.pk for c in unique], html.split(separator), strict=False)
            )
        return rendered[language]

    for case, event, watcher_ids in changes:
        for stream in inbox_streams(case, watcher_ids):
            by_stream.setdefault(stream, []).append((case, event))
    for stream, items in by_stream.items():
        events = {event for _, event in items}
        publish(
            stream=stream,
            event=events.pop() if len(events) == 1 else "social.cases.changed",
            render=lambda items=items: "".join(rows()[case.pk] for case, _ in items),
            payload={"cases": [case.pk for case, _ in items]},
        )
