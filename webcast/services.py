"""Every write to webcasts: meetings and their status, agendas and documents, what is on now,
and the ingest's record of its ffmpeg runs, gaps and health.

Staff writes are audited in the same transaction; anything viewers see live is published on the
meeting's stream (``meeting.<id>``) after commit; ingest health goes to the staff-only control
stream (``webcast-control.<id>``), coalesced to about one push a second.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record, model_changes
from engagement.realtime.services import publish, publish_soon
from engagement.realtime.streams import template
from engagement.tasks import enqueue

from . import pipeline
from .models import (
    AgendaDocument,
    AgendaItem,
    IngestGap,
    IngestRun,
    ItemMark,
    Meeting,
    SpeakerMark,
    Viewer,
)
from .signals import meeting_moved_on

S = Meeting.Status
logger = logging.getLogger(__name__)

TRANSITIONS: dict[str, set[str]] = {
    S.SCHEDULED: {S.LIVE, S.ENDED},
    S.LIVE: {S.ADJOURNED, S.ENDED},
    S.ADJOURNED: {S.LIVE, S.ENDED},
    S.ENDED: {S.ARCHIVED},
    S.ARCHIVED: set(),
}
"""Allowed status changes. ``scheduled → ended`` covers a meeting held without a webcast."""

MEETING_FIELDS = ["committee", "title", "starts_at", "venue", "description", "source", "pull_url"]


class WebcastError(ValueError):
    """A request that cannot be taken; the message says why and nothing was changed."""


def new_stream_key() -> str:
    return secrets.token_urlsafe(24)


def _clean_meeting(meeting: Meeting, ladder: str) -> None:
    errors: dict[str, list[str]] = {}
    try:
        meeting.full_clean(exclude=["current_item", "stream_key"])
    except ValidationError as exc:
        errors |= exc.message_dict
    if meeting.source == Meeting.Source.PULL:
        if not meeting.pull_url:
            errors.setdefault("pull_url", []).append(_("Enter the camera or server URL."))
        elif not meeting.pull_url.lower().startswith(pipeline.PULL_SCHEMES):
            errors.setdefault("pull_url", []).append(
                _("The URL must start with rtsp://, srt://, rtmp://, http:// or https://.")
            )
    try:
        meeting.ladder = ",".join(str(h) for h in pipeline.parse_ladder(ladder))
    except pipeline.PipelineError as exc:
        errors.setdefault("ladder", []).append(str(exc))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def meeting_create(
    *,
    actor: Any,
    committee: Any,
    title: str,
    starts_at: datetime,
    venue: str = "",
    description: str = "",
    source: str = Meeting.Source.RTMP,
    pull_url: str = "",
    ladder: str = "720,480,240",
) -> Meeting:
    meeting = Meeting(
        committee=committee,
        title=title.strip(),
        starts_at=starts_at,
        venue=venue.strip(),
        description=description.strip(),
        source=source,
        pull_url=pull_url.strip(),
        stream_key=new_stream_key(),
    )
    _clean_meeting(meeting, ladder)
    meeting.save()
    audit_record(actor=actor, action="meeting.create", target=meeting)
    return meeting


@transaction.atomic
def meeting_update(
    *, actor: Any, meeting: Meeting, ladder: str | None = None, **fields: Any
) -> Meeting:
    """Change the meeting's details; ``fields`` are among :data:`MEETING_FIELDS`."""
    unknown = set(fields) - set(MEETING_FIELDS)
    if unknown:
        raise WebcastError(f"Unknown meeting fields: {', '.join(sorted(unknown))}")
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    before = {name: getattr(meeting, name) for name in [*MEETING_FIELDS, "ladder"]}
    for name, value in fields.items():
        setattr(meeting, name, value.strip() if isinstance(value, str) else value)
    _clean_meeting(meeting, ladder if ladder is not None else meeting.ladder)
    meeting.save()
    changes = model_changes(meeting, [*MEETING_FIELDS, "ladder"], before)
    if changes:
        audit_record(actor=actor, action="meeting.update", target=meeting, changes=changes)
    _publish_status(meeting)
    return meeting


@transaction.atomic
def meeting_stream_key_reset(*, actor: Any, meeting: Meeting) -> Meeting:
    """A new secret key (the old one stops working when the stream next (re)starts)."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    meeting.stream_key = new_stream_key()
    meeting.save(update_fields=["stream_key", "updated_at"])
    audit_record(actor=actor, action="meeting.stream_key_reset", target=meeting)
    return meeting


@transaction.atomic
def meeting_transition(*, actor: Any, meeting: Meeting, to: str) -> Meeting:
    """Move the meeting to status ``to`` if :data:`TRANSITIONS` allows it.

    Going live starts the stream if it is not running; ending stops it and clears what is on
    now. Viewers are told at once (the status banner and the player's slate).
    """
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if to not in TRANSITIONS.get(meeting.status, set()):
        raise WebcastError(
            _("A meeting that is %(current)s cannot be made %(wanted)s.")
            % {
                "current": meeting.get_status_display().lower(),
                "wanted": str(dict(S.choices).get(to, to)).lower(),
            }
        )
    before = meeting.status
    now = timezone.now()
    meeting.status = to
    if to == S.LIVE:
        meeting.went_live_at = meeting.went_live_at or now
        meeting.ingest_enabled = True
    elif to == S.ENDED:
        meeting.viewers.all().delete()
        meeting.ended_at = now
        meeting.ingest_enabled = False
        meeting.current_speaker = ""
        meeting.current_speaker_role = ""
    meeting.save()
    audit_record(
        actor=actor,
        action=f"meeting.{to}",
        target=meeting,
        changes={"status": [before, to]},
    )
    _publish_status(meeting)
    _queue_archive_if_stopped(meeting)
    meeting_moved_on.send(sender=Meeting, meeting=meeting)
    return meeting


@transaction.atomic
def meeting_ingest_set(*, actor: Any, meeting: Meeting, enabled: bool) -> Meeting:
    """Start (for a rehearsal or before going live) or stop the stream."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if enabled and meeting.status in {S.ENDED, S.ARCHIVED}:
        raise WebcastError(_("This meeting has ended: its stream cannot be started again."))
    if meeting.ingest_enabled == enabled:
        return meeting
    meeting.ingest_enabled = enabled
    if enabled:
        meeting.ingest_error = ""
    meeting.save(update_fields=["ingest_enabled", "ingest_error", "updated_at"])
    audit_record(
        actor=actor,
        action="meeting.stream_start" if enabled else "meeting.stream_stop",
        target=meeting,
    )
    publish_soon(stream=meeting.control_stream)
    return meeting


def _publish_status(meeting: Meeting) -> None:
    # Pushed fragments swap themselves in out of band; the page renders them without the flag
    # (an htmx swap of a page part would otherwise take them out of it).
    publish(
        stream=meeting.stream,
        event="meeting.status",
        render=template("webcast/includes/_status.html", {"meeting": meeting, "oob": True}),
        payload={"status": meeting.status},
    )


# --- agenda ------------------------------------------------------------------------------------


def _clean_item(item: AgendaItem) -> None:
    try:
        item.full_clean(exclude=["subject_type"])
    except ValidationError as exc:
        if "__all__" in exc.message_dict:
            raise ValidationError(
                {"number": [_("Another item on this agenda already has that number.")]}
            ) from exc
        raise


@transaction.atomic
def agenda_item_create(
    *,
    actor: Any,
    meeting: Meeting,
    number: str,
    title: str,
    description: str = "",
    subject: Any = None,
) -> AgendaItem:
    position = (meeting.items.aggregate(m=Max("position"))["m"] or 0) + 1
    item = AgendaItem(
        meeting=meeting,
        number=number.strip(),
        title=title.strip(),
        description=description.strip(),
        position=position,
    )
    if subject is not None:
        item.subject = subject
    _clean_item(item)
    item.save()
    audit_record(actor=actor, action="agenda_item.create", target=item)
    _publish_agenda(meeting)
    return item


@transaction.atomic
def agenda_item_update(
    *,
    actor: Any,
    item: AgendaItem,
    number: str,
    title: str,
    description: str = "",
    position: int | None = None,
    subject: Any = None,
) -> AgendaItem:
    item = AgendaItem.objects.select_for_update().get(pk=item.pk)
    fields = ["number", "title", "description", "position", "subject_id"]
    before = {name: getattr(item, name) for name in fields}
    item.number, item.title, item.description = number.strip(), title.strip(), description.strip()
    if position is not None:
        item.position = position
    item.subject = subject
    if subject is None:
        item.subject_type, item.subject_id = None, ""
    _clean_item(item)
    item.save()
    changes = model_changes(item, fields, before)
    if changes:
        audit_record(actor=actor, action="agenda_item.update", target=item, changes=changes)
    _publish_agenda(item.meeting)
    return item


@transaction.atomic
def agenda_item_delete(*, actor: Any, item: AgendaItem) -> None:
    if item.marks.exists():
        raise WebcastError(
            _("This item has been discussed on the webcast and cannot be deleted; edit it instead.")
        )
    meeting = item.meeting
    audit_record(actor=actor, action="agenda_item.delete", target=item)
    names = [document.file.name for document in item.documents.all()]
    item.delete()
    transaction.on_commit(lambda: [AgendaDocument.file.field.storage.delete(n) for n in names])
    _publish_agenda(meeting)


def _check_pdf(upload: UploadedFile) -> None:
    limit = settings.WEBCAST_DOCUMENT_MAX_BYTES
    if upload.size is None or upload.size == 0:
        raise ValidationError({"file": [_("The selected file is empty.")]})
    if upload.size > limit:
        raise ValidationError(
            {
                "file": [
                    _("The selected file must be smaller than %(mb)s MB.")
                    % {"mb": limit // (1024 * 1024)}
                ]
            }
        )
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if head != b"%PDF-" or not (upload.name or "").lower().endswith(".pdf"):
        raise ValidationError({"file": [_("The selected file must be a PDF.")]})


@transaction.atomic
def agenda_document_add(
    *, actor: Any, item: AgendaItem, title: str, file: UploadedFile
) -> AgendaDocument:
    _check_pdf(file)
    document = AgendaDocument(item=item, title=title.strip(), size=file.size or 0)
    try:
        document.full_clean(exclude=["file"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    document.file.save(Path(file.name or "document.pdf").name, file, save=False)
    document.save()
    audit_record(actor=actor, action="agenda_document.add", target=document)
    return document


@transaction.atomic
def agenda_document_delete(*, actor: Any, document: AgendaDocument) -> None:
    audit_record(actor=actor, action="agenda_document.delete", target=document)
    transaction.on_commit(lambda name=document.file.name: document.file.storage.delete(name))
    document.delete()


def _publish_agenda(meeting: Meeting) -> None:
    from .selectors import agenda_context

    if meeting.status in {S.SCHEDULED, S.LIVE, S.ADJOURNED}:
        render = template("webcast/includes/_agenda.html", agenda_context(meeting) | {"oob": True})
        current = meeting.current_item_id
        publish(
            stream=meeting.stream, event="meeting.agenda", render=render, payload={"item": current}
        )


# --- what is on now ----------------------------------------------------------------------------


@transaction.atomic
def meeting_now_on_item(
    *, actor: Any, meeting: Meeting, item: AgendaItem, at: datetime | None = None
) -> ItemMark:
    """ "Now on item N": store the time (now unless ``at`` is given) and tell every viewer.

    Times must not go backwards: a mark earlier than the meeting's last mark, or before it went
    live, is refused (a correction is an edit of that mark, in the archive).
    """
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status not in {S.LIVE, S.ADJOURNED}:
        raise WebcastError(_("The meeting is not live."))
    if item.meeting_id != meeting.pk:
        raise WebcastError(_("That item is not on this meeting's agenda."))
    at = at or timezone.now()
    last = meeting.item_marks.order_by("-at").first()
    if last is not None and at < last.at:
        raise WebcastError(
            _("Agenda times must be in order: item %(number)s was marked at %(time)s.")
            % {"number": last.item.number, "time": timezone.localtime(last.at).strftime("%H:%M:%S")}
        )
    if meeting.went_live_at and at < meeting.went_live_at:
        raise WebcastError(_("That time is before the meeting went live."))
    mark = ItemMark.objects.create(meeting=meeting, item=item, at=at, actor=actor)
    meeting.current_item = item
    meeting.save(update_fields=["current_item", "updated_at"])
    audit_record(
        actor=actor, action="meeting.now_on_item", target=meeting, changes={"item": item.number}
    )
    _publish_agenda(meeting)
    publish(
        stream=meeting.stream,
        event="meeting.item",
        payload={"item": item.pk, "number": item.number, "at": at.isoformat()},
    )
    meeting_moved_on.send(sender=Meeting, meeting=meeting)
    return mark


@transaction.atomic
def meeting_speaker_set(
    *, actor: Any, meeting: Meeting, name: str, role: str, councillor: Any = None
) -> SpeakerMark | None:
    """Mark who is speaking (an empty name clears it). Shown to viewers and kept for the
    archive's speaker index."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status not in {S.LIVE, S.ADJOURNED}:
        raise WebcastError(_("The meeting is not live."))
    name = (councillor.name if councillor is not None else name).strip()
    mark = None
    if name:
        if role not in SpeakerMark.Role.values:
            raise ValidationError(
                {
                    "role": [
                        _("Choose whether they are a councillor, an officer or a public speaker.")
                    ]
                }
            )
        mark = SpeakerMark(
            meeting=meeting, at=timezone.now(), name=name, role=role, councillor=councillor
        )
        try:
            mark.full_clean()
        except ValidationError as exc:
            raise ValidationError({"name": exc.message_dict.get("name", exc.messages)}) from exc
        mark.save()
    meeting.current_speaker = name
    meeting.current_speaker_role = role if name else ""
    meeting.save(update_fields=["current_speaker", "current_speaker_role", "updated_at"])
    audit_record(
        actor=actor,
        action="meeting.speaker",
        target=meeting,
        changes={"speaker": name, "role": meeting.current_speaker_role},
    )
    publish(
        stream=meeting.stream,
        event="meeting.speaker",
        render=template("webcast/includes/_speaker.html", {"meeting": meeting, "oob": True}),
        payload={"name": name, "role": meeting.current_speaker_role},
    )
    return mark


# --- the ingest (called by the supervisor: the system, not a person) ---------------------------


def live_dir(meeting: Meeting) -> Path:
    return Path(settings.MEDIA_ROOT) / "webcast" / "live" / str(meeting.pk)


def rehearsal_dir(meeting: Meeting) -> Path:
    """Named after a hash of the stream key, so nobody can guess where a rehearsal is."""
    import hashlib

    secret = hashlib.sha256(f"rehearsal:{meeting.stream_key}".encode()).hexdigest()[:24]
    return Path(settings.MEDIA_ROOT) / "webcast" / "rehearsal" / f"{meeting.pk}-{secret}"


def recordings_dir(meeting: Meeting) -> Path:
    """The meeting's safety recordings (and an uploaded recording): under the private root,
    which the web server never serves; staff download them through :func:`recording_file`."""
    return Path(settings.WEBCAST_PRIVATE_ROOT) / "webcast" / "recordings" / str(meeting.pk)


def _private_path(path: Path) -> str:
    return str(path.relative_to(Path(settings.WEBCAST_PRIVATE_ROOT)))


def recording_runs(meeting: Meeting) -> list[tuple[IngestRun, Path]]:
    """The meeting's runs whose safety-recording file exists, with it, in run order."""
    runs = meeting.runs.exclude(recording="").order_by("number")
    return [(run, Path(run.recording)) for run in runs if Path(run.recording).is_file()]


def recording_parts(meeting: Meeting) -> list[Path]:
    return [path for _run, path in recording_runs(meeting)]


def recording_file(meeting: Meeting, *, run_number: int | None = None) -> Path | None:
    """The joined safety recording (or one run's part) if it is still on disk, else None.
    Only ever a file inside the private root."""
    if run_number is None:
        name = (meeting.archive or {}).get("recording", "")
        if not name:
            return None
        path = Path(settings.WEBCAST_PRIVATE_ROOT) / name
    else:
        run = meeting.runs.filter(number=run_number).exclude(recording="").first()
        if run is None:
            return None
        path = Path(run.recording)
    root = Path(settings.WEBCAST_PRIVATE_ROOT).resolve()
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


@transaction.atomic
def recording_download_record(*, actor: Any, meeting: Meeting, path: Path) -> None:
    audit_record(
        actor=actor,
        action="meeting.recording_download",
        target=meeting,
        changes={"file": _private_path(path)},
    )


@transaction.atomic
def ingest_run_start(*, meeting: Meeting, mode: str = IngestRun.Mode.PROGRAMME) -> IngestRun:
    """A new run with the next number and a recording file name nothing has used."""
    Meeting.objects.select_for_update().get(pk=meeting.pk)
    number = (meeting.runs.aggregate(m=Max("number"))["m"] or 0) + 1
    recording = ""
    if mode == IngestRun.Mode.PROGRAMME:
        recording = str(recordings_dir(meeting) / f"part-{number:04d}.ts")
    return IngestRun.objects.create(
        meeting=meeting,
        number=number,
        mode=mode,
        started_at=timezone.now(),
        recording=recording,
    )


@transaction.atomic
def ingest_run_first_frame(*, run: IngestRun) -> None:
    """The run is producing pictures: close any open gap and clear the error shown to staff."""
    now = timezone.now()
    IngestRun.objects.filter(pk=run.pk, first_frame_at__isnull=True).update(first_frame_at=now)
    closed = IngestGap.objects.filter(meeting_id=run.meeting_id, ended_at__isnull=True).update(
        ended_at=now
    )
    Meeting.objects.filter(pk=run.meeting_id).update(ingest_error="")
    if closed:
        audit_record(actor=None, action="meeting.stream_restored", target=run.meeting)
    publish_soon(stream=run.meeting.control_stream)


@transaction.atomic
def ingest_run_end(
    *, run: IngestRun, exit_code: int | None, error: str = "", planned: bool = False
) -> IngestGap | None:
    """Record the end of a run; an unplanned end while the stream is wanted opens a gap."""
    run = IngestRun.objects.select_for_update().get(pk=run.pk)
    if run.ended_at is not None:
        return None
    now = timezone.now()
    run.ended_at, run.exit_code, run.error = now, exit_code, error[:500]
    run.save(update_fields=["ended_at", "exit_code", "error"])
    meeting = Meeting.objects.get(pk=run.meeting_id)
    _queue_archive_if_stopped(meeting)
    if planned or not meeting.ingest_enabled:
        return None
    if error:
        Meeting.objects.filter(pk=meeting.pk).update(ingest_error=error[:500])
    publish_soon(stream=meeting.control_stream)
    if run.first_frame_at is None:
        return None  # never started: the gap already open (if any) goes on
    gap = IngestGap.objects.create(meeting=meeting, started_at=now, reason=error[:500])
    audit_record(
        actor=None,
        action="meeting.stream_gap",
        target=meeting,
        changes={"run": run.number, "exit_code": exit_code, "error": error[:200]},
    )
    return gap


def ingest_runs_recover(*, meeting_id: int | None = None) -> int:
    """Close runs a previous supervisor left open (it was killed with its ffmpeg): called when
    a supervisor starts, before it starts anything. An ended meeting's archive is then queued."""
    runs = IngestRun.objects.filter(ended_at__isnull=True)
    if meeting_id is not None:
        runs = runs.filter(meeting_id=meeting_id)
    count = 0
    for run in runs:
        ingest_run_end(
            run=run, exit_code=None, error=_("The supervisor stopped while this run was going.")
        )
        count += 1
    return count


def ingest_health_record(*, meeting_id: int, health: dict[str, Any]) -> None:
    """The latest ffmpeg progress (about once a second); staff see it within a second."""
    Meeting.objects.filter(pk=meeting_id).update(health=health, health_at=timezone.now())
    publish_soon(stream=f"webcast-control.{meeting_id}")


def ingest_error_set(*, meeting_id: int, error: str) -> None:
    Meeting.objects.filter(pk=meeting_id).update(ingest_error=error[:500])
    publish_soon(stream=f"webcast-control.{meeting_id}")


# --- the archive ---------------------------------------------------------------------------------


def archive_prefix(meeting: Meeting) -> str:
    """Where the meeting's archive is in the archive storage (:mod:`webcast.storage`)."""
    return f"webcast/archive/{meeting.pk}"


def captions_name(meeting: Meeting) -> str:
    return f"{archive_prefix(meeting)}/captions.vtt"


def captions_text(meeting: Meeting) -> str:
    """The meeting's captions (WebVTT) for staff to edit, or "" if there are none."""
    from . import storage

    if not meeting.captions_at:
        return ""
    try:
        return storage.read_text(captions_name(meeting))
    except FileNotFoundError:
        return ""


def _queue_archive_if_stopped(meeting: Meeting) -> None:
    """Queue the archive once the meeting has ended and no ffmpeg run is still stopping (the
    supervisor's last :func:`ingest_run_end` queues it otherwise)."""
    if meeting.status == S.ENDED and not meeting.runs.filter(ended_at__isnull=True).exists():
        from .tasks import archive_meeting

        enqueue(archive_meeting, meeting.pk)


def _archive_progress(meeting_id: int, percent: int) -> None:
    Meeting.objects.filter(pk=meeting_id).update(archive_progress=percent)
    publish_soon(stream=f"webcast-control.{meeting_id}")


def _thumbnails(
    chapter_list: list[Any], total: float, video: str, work: Path, binary: str, prefix: str
) -> dict[str, str]:
    from . import archive, storage

    thumbnails = {}
    for chapter in chapter_list:
        thumb = work / f"item-{chapter.item_id}.jpg"
        at = min(chapter.start + 1, max(total - 0.5, 0))
        archive.run(binary, archive.still_args(video, at, thumb, 320))
        name = storage.put(f"{prefix}/{thumb.name}", thumb)
        thumbnails[str(chapter.item_id)] = name
    return thumbnails


def _item_marks(meeting: Meeting) -> list[tuple[int, str, datetime]]:
    return [
        (m.item_id, f"{m.item.number}. {m.item.title}", m.at)
        for m in meeting.item_marks.select_related("item").order_by("at", "pk")
    ]


def _archive_media(
    meeting: Meeting, master: Path, work: Path, binary: str, prefix: str
) -> dict[str, Any]:
    """Make the MP4, chapters, poster and thumbnails in ``work`` and store them, with the
    live HLS ladder (the VOD), in the archive storage; returns what the archive records."""
    from . import archive, storage

    playlist = archive.top_variant(master)
    segments = pipeline.parse_media_playlist(playlist.read_text())
    total = round(sum(s.duration for s in segments), 3)
    mp4 = work / "meeting.mp4"
    archive.run_with_progress(
        binary,
        archive.mp4_args(playlist, mp4),
        total,
        lambda done: _archive_progress(meeting.pk, int(done * 60)),
    )
    chapter_list = archive.chapters(_item_marks(meeting), segments)
    poster = work / "poster.jpg"
    archive.run(binary, archive.still_args(mp4, min(total * 0.1, 60.0), poster, 1280))
    thumbnails = _thumbnails(chapter_list, total, str(mp4), work, binary, prefix)
    names = {
        "mp4": storage.put(f"{prefix}/meeting.mp4", mp4),
        "chapters": storage.put(f"{prefix}/chapters.vtt", archive.chapters_vtt(chapter_list)),
        "poster": storage.put(f"{prefix}/poster.jpg", poster),
    }
    _archive_progress(meeting.pk, 70)
    # The ladder: segments first, playlists last, so no playlist is ever stored before what it
    # lists; the master playlist last of all.
    live = live_dir(meeting)
    files = sorted(p for p in live.rglob("*") if p.is_file() and p.suffix in {".ts", ".m3u8"})
    files.sort(key=lambda p: (p.suffix == ".m3u8", p.name == "master.m3u8"))
    for path in files:
        storage.put(f"{prefix}/hls/{path.relative_to(live).as_posix()}", path)
    return names | {
        "hls": f"{prefix}/hls/master.m3u8",
        "hls_top": f"{prefix}/hls/{playlist.relative_to(live).as_posix()}",
        "duration": total,
        "mp4_size": mp4.stat().st_size,
        "chapter_starts": {str(c.item_id): c.start for c in chapter_list},
        "thumbnails": thumbnails,
    }


def meeting_archive_build(*, meeting_id: int) -> Meeting:
    """Make the archive (idempotent: a finished archive is left alone; a failed one is retried
    from the start). Long-running: ffmpeg remuxes the whole meeting; not in a transaction."""
    from . import archive
    from .supervisor import ffmpeg_binary

    meeting = Meeting.objects.get(pk=meeting_id)
    if meeting.status not in {S.ENDED, S.ARCHIVED} or meeting.archive_state == "done":
        return meeting
    if meeting.runs.filter(ended_at__isnull=True).exists():
        return meeting
    parts = recording_parts(meeting)
    if not (live_dir(meeting) / "master.m3u8").exists() and not parts:
        return meeting  # nothing was streamed: it stays ended, and a recording can be uploaded
    _archive_progress(meeting.pk, 0)
    Meeting.objects.filter(pk=meeting.pk).update(archive_state="running")
    binary = ffmpeg_binary()
    prefix = archive_prefix(meeting)
    result: dict[str, Any] = {}
    try:
        master = live_dir(meeting) / "master.m3u8"
        if master.exists():
            with tempfile.TemporaryDirectory(prefix="moot-archive-") as work:
                result |= _archive_media(meeting, master, Path(work), binary, prefix)
        _archive_progress(meeting.pk, 90)
        if parts:
            # The joined safety recording stays private, beside its parts.
            private = recordings_dir(meeting)
            listing = private / "recording-parts.txt"
            listing.write_text(pipeline.concat_list(parts))
            archive.run(binary, archive.join_args(listing, private / "recording.mkv"))
            listing.unlink()
            result["recording"] = _private_path(private / "recording.mkv")
            result["recording_parts"] = len(parts)
    except Exception as exc:  # ffmpeg, the local disk or the archive storage (S3): retried
        logger.exception("meeting %s: the archive could not be made", meeting.pk)
        Meeting.objects.filter(pk=meeting.pk).update(
            archive_state="failed", archive={"error": str(exc)[:500]}
        )
        audit_record(
            actor=None, action="meeting.archive_failed", target=meeting, changes={"error": str(exc)}
        )
        publish_soon(stream=meeting.control_stream)
        return Meeting.objects.get(pk=meeting.pk)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        meeting.archive, meeting.archive_state, meeting.archive_progress = result, "done", 100
        meeting.save(update_fields=["archive", "archive_state", "archive_progress", "updated_at"])
        if meeting.status == S.ENDED:
            meeting_transition(actor=None, meeting=meeting, to=S.ARCHIVED)
        publish_soon(stream=meeting.control_stream)
    if result.get("hls"):
        # The archive storage has the ladder now: the local live copy goes (viewers of the
        # ended stream are sent to the archive's playlists from here on).
        shutil.rmtree(live_dir(meeting), ignore_errors=True)
    return Meeting.objects.get(pk=meeting.pk)


@transaction.atomic
def meeting_captions_set(*, actor: Any, meeting: Meeting, text: str) -> Meeting:
    """Store captions (WebVTT, or SRT converted) for the archive; staff may edit them later."""
    from . import archive

    if meeting.status not in {S.ENDED, S.ARCHIVED}:
        raise WebcastError(_("Captions can be added once the meeting has ended."))
    if len(text) > 5_000_000:
        raise ValidationError({"captions": [_("The captions file must be smaller than 5 MB.")]})
    try:
        vtt = archive.captions_to_vtt(text)
    except archive.CaptionError as exc:
        raise ValidationError({"captions": [str(exc)]}) from exc
    from . import storage

    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    storage.put(captions_name(meeting), vtt)
    meeting.captions_at = timezone.now()
    meeting.save(update_fields=["captions_at", "updated_at"])
    audit_record(actor=actor, action="meeting.captions", target=meeting)
    return meeting


def captions_reminders_send() -> int:
    """Tell staff about archives still without captions 10 days after the meeting: after 14
    days the accessibility regulations treat them as pre-recorded, which must be captioned."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model

    from engagement.accounts.models import Role
    from engagement.notifications.services import notify

    due = Meeting.objects.filter(
        status=S.ARCHIVED,
        archive_removed_at__isnull=True,  # not one whose recording was removed (retention)
        captions_at__isnull=True,
        captions_reminded_at__isnull=True,
        ended_at__lte=timezone.now() - timedelta(days=10),
    ).select_related("committee")
    staff = list(get_user_model().objects.filter(groups__name=Role.STAFF, is_active=True))
    count = 0
    for meeting in due:
        with transaction.atomic():
            claimed = Meeting.objects.filter(pk=meeting.pk, captions_reminded_at__isnull=True)
            if not claimed.update(captions_reminded_at=timezone.now()):
                continue
            for user in staff:
                notify(
                    user=user,
                    kind="updates",  # staff-only work: no kind of its own on residents' pages
                    subject=_("Captions needed: %(meeting)s") % {"meeting": meeting},
                    body=_(
                        "The recording of %(meeting)s has no captions. It counts as pre-recorded "
                        "video 14 days after the meeting, and must then be captioned."
                    )
                    % {"meeting": meeting},
                    url=reverse("webcast_staff:meeting", args=[meeting.pk]),
                )
            count += 1
    return count


# --- correcting agenda times ---------------------------------------------------------------------


@transaction.atomic
def item_mark_update(*, actor: Any, mark: ItemMark, at: datetime) -> ItemMark:
    """Correct when the meeting reached an item. Times stay in order: a mark cannot move before
    the one before it or after the one after it, nor outside the meeting's live time. The
    archive's chapters and thumbnails follow."""
    Meeting.objects.select_for_update().get(pk=mark.meeting_id)
    mark = ItemMark.objects.select_related("item", "meeting").get(pk=mark.pk)
    meeting = mark.meeting
    ordered = list(meeting.item_marks.select_related("item").order_by("at", "pk"))
    index = next(i for i, m in enumerate(ordered) if m.pk == mark.pk)
    before = ordered[index - 1] if index else None
    after = ordered[index + 1] if index + 1 < len(ordered) else None
    for neighbour, wrong in ((before, before and at < before.at), (after, after and at > after.at)):
        if wrong:
            when = timezone.localtime(neighbour.at).strftime("%H:%M:%S")
            message = _("Agenda times must be in order: item %(number)s starts at %(time)s.")
            raise ValidationError(
                {"at": [message % {"number": neighbour.item.number, "time": when}]}
            )
    if (meeting.went_live_at and at < meeting.went_live_at) or (
        meeting.ended_at and at > meeting.ended_at
    ):
        raise ValidationError({"at": [_("The time must be while the meeting was live.")]})
    old = mark.at
    mark.at = at
    mark.save(update_fields=["at"])
    audit_record(
        actor=actor,
        action="item_mark.update",
        target=meeting,
        changes={"item": mark.item.number, "at": [old.isoformat(), at.isoformat()]},
    )
    if meeting.archive_state == "done":
        transaction.on_commit(lambda: archive_chapters_refresh(meeting_id=meeting.pk))
    return mark


def archive_chapters_refresh(*, meeting_id: int) -> None:
    """Rewrite the archive's chapters (and item thumbnails) from the current agenda times."""
    from . import archive, storage
    from .supervisor import ffmpeg_binary

    meeting = Meeting.objects.get(pk=meeting_id)
    data = dict(meeting.archive or {})
    master = live_dir(meeting) / "master.m3u8"  # archives made before the ladder was stored
    if meeting.archive_state != "done" or not (data.get("hls_top") or master.exists()):
        return
    prefix = archive_prefix(meeting)
    if data.get("hls_top"):
        playlist = storage.read_text(data["hls_top"])
    else:
        playlist = archive.top_variant(master).read_text()
    segments = pipeline.parse_media_playlist(playlist)
    chapter_list = archive.chapters(_item_marks(meeting), segments)
    storage.put(data["chapters"], archive.chapters_vtt(chapter_list))
    total = round(sum(s.duration for s in segments), 3)
    for name in data.get("thumbnails", {}).values():
        storage.archive_storage().delete(name)
    with tempfile.TemporaryDirectory(prefix="moot-archive-") as work:
        video = storage.local_or_url(data["mp4"])
        thumbnails = _thumbnails(chapter_list, total, video, Path(work), ffmpeg_binary(), prefix)
    data["chapter_starts"] = {str(c.item_id): c.start for c in chapter_list}
    data["thumbnails"] = thumbnails
    Meeting.objects.filter(pk=meeting.pk).update(archive=data)


# --- viewers -------------------------------------------------------------------------------------

VIEWER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def viewer_seen(*, meeting: Meeting, token: str) -> None:
    """A viewer's player says it is still playing (about every 20 s); staff see the count of
    players heard from in the last :data:`selectors.VIEWER_WINDOW` seconds."""
    if not VIEWER_TOKEN.match(token or ""):
        raise WebcastError(_("That viewer token is not valid."))
    if meeting.status not in {S.LIVE, S.ADJOURNED}:
        raise WebcastError(_("The meeting is not live."))
    Viewer.objects.update_or_create(
        meeting=meeting, token=token, defaults={"last_seen": timezone.now()}
    )
    publish_soon(stream=meeting.control_stream)


# --- uploaded recordings (meetings held without a live webcast) --------------------------------


def meeting_recording_upload(*, actor: Any, meeting: Meeting, file: UploadedFile) -> Path:
    """Keep a recording made elsewhere for an ended meeting that has none, then queue the same
    pipeline as a live stream (HLS ladder) and the archive. A file that is not a video ffmpeg
    can read, or is over ``WEBCAST_UPLOAD_MAX_BYTES``, is refused and nothing is kept."""
    from .supervisor import probe

    if (live_dir(meeting) / "master.m3u8").exists() or meeting.archive_state not in {"", "failed"}:
        raise WebcastError(_("This meeting already has a recording."))
    if meeting.status != S.ENDED:
        raise WebcastError(_("A recording can be uploaded once the meeting has ended."))
    limit = settings.WEBCAST_UPLOAD_MAX_BYTES
    if not file.size:
        raise ValidationError({"video": [_("The selected file is empty.")]})
    if file.size > limit:
        from django.template.defaultfilters import filesizeformat

        message = _("The selected file must be smaller than %(size)s.")
        raise ValidationError({"video": [message % {"size": filesizeformat(limit)}]})
    suffix = Path(file.name or "").suffix.lower()
    if suffix not in {".mp4", ".mov", ".mkv", ".ts", ".webm", ".avi", ".m4v"}:
        raise ValidationError(
            {"video": [_("The selected file must be a video (MP4, MOV, MKV, TS, WebM or AVI).")]}
        )
    target = recordings_dir(meeting) / f"upload{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for chunk in file.chunks():
            out.write(chunk)
    info = probe(str(target))
    if not info.has_video or not info.duration:
        target.unlink(missing_ok=True)
        raise ValidationError(
            {"video": [_("The selected file is not a video that can be played.")]}
        )
    with transaction.atomic():
        Meeting.objects.filter(pk=meeting.pk).update(archive_state="queued", archive_progress=0)
        audit_record(
            actor=actor,
            action="meeting.recording_upload",
            target=meeting,
            changes={"file": target.name, "seconds": info.duration},
        )
        from .tasks import transcode_upload

        enqueue(transcode_upload, meeting.pk, str(target))
    return target


def meeting_upload_transcode(*, meeting_id: int, path: str) -> Meeting:
    """Run the live pipeline on an uploaded recording, then make the archive (idempotent)."""
    from .supervisor import transcode_file

    meeting = Meeting.objects.get(pk=meeting_id)
    if meeting.archive_state not in {"queued", "failed"}:
        return meeting
    Meeting.objects.filter(pk=meeting.pk).update(archive_state="running", archive_progress=0)
    try:
        transcode_file(path, live_dir(meeting), ladder=pipeline.parse_ladder(meeting.ladder))
    except pipeline.PipelineError as exc:
        Meeting.objects.filter(pk=meeting.pk).update(
            archive_state="failed", archive={"error": str(exc)[:500]}
        )
        return Meeting.objects.get(pk=meeting.pk)
    Meeting.objects.filter(pk=meeting.pk).update(archive_state="")
    return meeting_archive_build(meeting_id=meeting.pk)


# --- public speakers' names (personal data) -----------------------------------------------------


def _public_speaker_marks(name: str):
    return SpeakerMark.objects.filter(role=SpeakerMark.Role.PUBLIC, name__iexact=name.strip())


def _forget_speaker_name(meeting_ids: list[int], name: str) -> None:
    """Blank ``name`` where it was also kept: the live "speaking now" field and the audit
    entries of marking the speaker."""
    from engagement.audit.models import AuditEntry

    public = SpeakerMark.Role.PUBLIC
    Meeting.objects.filter(
        pk__in=meeting_ids, current_speaker__iexact=name, current_speaker_role=public
    ).update(current_speaker="")
    AuditEntry.objects.filter(
        action="meeting.speaker",
        target_type=Meeting._meta.label_lower,
        target_id__in=[str(pk) for pk in meeting_ids],
        changes__speaker__iexact=name,
    ).exclude(changes__role__in=[SpeakerMark.Role.COUNCILLOR, SpeakerMark.Role.OFFICER]).update(
        changes={"speaker": "", "role": public}
    )


def speaking_export(user: Any) -> list[dict[str, Any]]:
    """The speaker index entries that name the person: as a councillor linked to the account,
    or as a public speaker under the account's name (public speakers have no account link:
    the name is how the index knows them)."""
    marks = SpeakerMark.objects.filter(councillor__user=user)
    if (user.name or "").strip():
        marks = marks | _public_speaker_marks(user.name)
    return [
        {
            "meeting": str(mark.meeting),
            "at": mark.at.isoformat(),
            "name": mark.name,
            "role": mark.role,
        }
        for mark in marks.select_related("meeting__committee").order_by("at")
    ]


def speaking_anonymise(user: Any) -> None:
    """Public speakers under the account's name lose the name (the entry stays: someone from
    the public spoke then). Councillors spoke in public office: their entries stay."""
    name = (user.name or "").strip()
    if not name:
        return
    marks = _public_speaker_marks(name)
    meeting_ids = list(marks.values_list("meeting_id", flat=True).distinct())
    marks.update(name="")
    _forget_speaker_name(meeting_ids, name)


@transaction.atomic
def speaker_name_remove(*, actor: Any, mark: SpeakerMark) -> SpeakerMark:
    """Remove a public speaker's name from the speaker index (their request, without an
    account). Audited without the name."""
    mark = SpeakerMark.objects.select_for_update().get(pk=mark.pk)
    if mark.role != SpeakerMark.Role.PUBLIC:
        raise WebcastError(
            _("Only public speakers' names can be removed: councillors and officers speak in "
              "public office.")
        )  # fmt: skip
    if not mark.name:
        return mark
    name, mark.name = mark.name, ""
    mark.save(update_fields=["name"])
    _forget_speaker_name([mark.meeting_id], name)
    audit_record(
        actor=actor,
        action="meeting.speaker_name_removed",
        target=mark.meeting,
        changes={"at": mark.at.isoformat()},
    )
    return mark
