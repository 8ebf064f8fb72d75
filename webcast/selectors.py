"""Reads for webcasts: meeting lists, the agenda of a meeting, the control room's state, the
iCalendar feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone

from engagement.realtime.streams import Render, template

from .models import AgendaDocument, AgendaItem, IngestGap, ItemMark, Meeting
from .storage import archive_storage

S = Meeting.Status
PUBLIC_LIST_LIMIT = 200


def meetings_base() -> QuerySet[Meeting]:
    return Meeting.objects.select_related("committee")


def upcoming_meetings(*, committee: Any = None, now: datetime | None = None) -> QuerySet[Meeting]:
    """Live and adjourned meetings first, then scheduled ones from today on, soonest first."""
    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    qs = meetings_base().filter(status__in=[S.LIVE, S.ADJOURNED]) | meetings_base().filter(
        status=S.SCHEDULED, starts_at__gte=start_of_day
    )
    if committee is not None:
        qs = qs.filter(committee=committee)
    return qs.order_by("starts_at", "pk")


def past_meetings(*, committee: Any = None, now: datetime | None = None) -> QuerySet[Meeting]:
    qs = meetings_base().filter(status__in=[S.ENDED, S.ARCHIVED])
    if committee is not None:
        qs = qs.filter(committee=committee)
    return qs.order_by("-starts_at", "-pk")


def home_meetings(request: Any) -> list[Meeting]:
    return list(upcoming_meetings()[:5])


def agenda_items(meeting: Meeting) -> list[AgendaItem]:
    docs = Prefetch("documents", queryset=AgendaDocument.objects.order_by("pk"))
    marks = Prefetch("marks", queryset=ItemMark.objects.order_by("at"))
    return list(
        meeting.items.prefetch_related(docs, marks, "subject_type").order_by("position", "pk")
    )


def agenda_context(meeting: Meeting) -> dict[str, Any]:
    """What ``_agenda.html`` needs, for the page and for every push of it."""
    items = agenda_items(meeting)
    thumbnails = (meeting.archive or {}).get("thumbnails", {})
    for item in items:
        name = thumbnails.get(str(item.pk))
        item.thumbnail = archive_storage().url(name) if name else ""
    return {
        "meeting": meeting,
        "items": items,
        "current_id": meeting.current_item_id,
        "timeline_json": json.dumps(item_timeline(meeting)),
        "hls_url": hls_url(meeting),
    }


def hls_url(meeting: Meeting, *, preview: bool = False) -> str:
    """The master playlist's URL once the stream has made one (served by the web server).
    A rehearsal before the meeting goes live is shown only in the control room (``preview``)."""
    from .services import live_dir

    if (meeting.status == S.SCHEDULED and not preview) or meeting.archive_removed_at:
        return ""
    if meeting.archive_state == "done" and (meeting.archive or {}).get("hls"):
        return archive_storage().url(meeting.archive["hls"])
    if not (live_dir(meeting) / "master.m3u8").exists():
        return ""
    return f"{settings.MEDIA_URL}webcast/live/{meeting.pk}/master.m3u8"


def item_timeline(meeting: Meeting) -> list[dict[str, Any]]:
    """Every "now on item" mark in order, as the player needs it: item id and ISO time."""
    return [
        {"item": mark.item_id, "number": mark.item.number, "at": mark.at.isoformat()}
        for mark in meeting.item_marks.select_related("item").order_by("at", "pk")
    ]


def rehearsal_url(meeting: Meeting) -> str:
    """The rehearsal's master playlist, for the control room's preview."""
    from .services import rehearsal_dir

    directory = rehearsal_dir(meeting)
    if not (directory / "master.m3u8").exists():
        return ""
    return f"{settings.MEDIA_URL}webcast/rehearsal/{directory.name}/master.m3u8"


def archive_urls(meeting: Meeting, *, staff: bool = False) -> dict[str, Any]:
    """Links to what the archive job made (empty until it has). The safety recording (everything
    received, as received: adjournments and anything said off the agenda included) is for staff
    pages only, never for the public pages or the API."""
    archive = meeting.archive or {}
    if meeting.archive_state != "done":
        return {}
    storage = archive_storage()
    urls = {
        key: storage.url(archive[key]) for key in ("mp4", "chapters", "poster") if archive.get(key)
    }
    if staff and archive.get("recording"):
        urls["recording"] = reverse("webcast_staff:recording", args=[meeting.pk])
    urls["mp4_size"] = archive.get("mp4_size", 0)
    if meeting.captions_at:
        from .services import captions_name

        urls["captions"] = storage.url(captions_name(meeting))
    return urls


def recording_parts(meeting: Meeting) -> list[Any]:
    """The meeting's runs whose safety-recording part is on disk, each with its ``size``
    (staff pages only)."""
    from .services import recording_runs

    parts = []
    for run, path in recording_runs(meeting):
        run.size = path.stat().st_size
        parts.append(run)
    return parts


VIEWER_WINDOW = 45


def viewer_count(meeting: Meeting) -> int:
    since = timezone.now() - timedelta(seconds=VIEWER_WINDOW)
    return meeting.viewers.filter(last_seen__gte=since).count()


def control_state(meeting: Meeting) -> dict[str, Any]:
    """What the control room's health panel shows."""
    health = meeting.health or {}
    stale = meeting.health_at is None or timezone.now() - meeting.health_at > timedelta(seconds=5)
    return {
        "meeting": meeting,
        "health": health,
        "health_stale": stale,
        "viewers": viewer_count(meeting),
        "runs": list(meeting.runs.order_by("-number")[:10]),
        "gaps": list(IngestGap.objects.filter(meeting=meeting).order_by("-started_at")[:10]),
    }


def control_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """The ``webcast-control.<id>`` stream's state: the ingest health panel."""
    meeting = meetings_base().get(pk=int(key))
    render = template("webcast/staff/includes/_health.html", control_state(meeting) | {"oob": True})
    return "webcast.health", render, {"health": meeting.health, "error": meeting.ingest_error}


# --- iCalendar ---------------------------------------------------------------------------------


def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", r"\;").replace(",", r"\,").replace("\n", r"\n")


def _ics_fold(line: str) -> str:
    """RFC 5545 folds lines longer than 75 octets."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, chunk = [], b""
    for ch in line:
        encoded = ch.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def icalendar(
    meetings: list[Meeting], *, site_url: str, host: str, name: str, duration_hours: int = 2
) -> str:
    """An iCalendar (RFC 5545) feed of ``meetings``, times in UTC."""
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Moot//Council meetings//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_escape(name)}",
    ]
    for meeting in meetings:
        start = meeting.starts_at.astimezone(UTC)
        end = start + timedelta(hours=duration_hours)
        url = site_url.rstrip("/") + meeting.get_absolute_url()
        lines += [
            "BEGIN:VEVENT",
            f"UID:meeting-{meeting.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{end.strftime('%Y%m%dT%H%M%SZ')}",
            f"SUMMARY:{_ics_escape(str(meeting))}",
            f"LOCATION:{_ics_escape(meeting.venue)}",
            f"DESCRIPTION:{_ics_escape(meeting.description + chr(10) + url)}",
            f"URL:{url}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_ics_fold(line) for line in lines) + "\r\n"
