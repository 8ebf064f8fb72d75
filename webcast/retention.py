"""How long meeting recordings are kept, and the daily job that removes what is past it.

Archives (what residents watch) are kept forever unless the council sets a number of months,
council-wide or for a committee. Safety recordings (everything received, as received: staff
only) are kept for their own period, in days, which is meant to be shorter. Removal deletes the
files, keeps the meeting, its agenda and agenda times, says on the meeting page that the
recording is no longer available, and is audited; the names of public speakers go with the
recording (the speaker index has no purpose without it, and they are private people).
"""

from __future__ import annotations

import calendar
import shutil
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from engagement.audit.services import audit_record, model_changes

from . import storage
from .models import ArchiveRetention, Meeting, SpeakerMark

S = Meeting.Status


def add_months(when: datetime, months: int) -> datetime:
    """``when`` plus ``months`` calendar months (31 January + 1 month is 28 or 29 February)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(
        year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1])
    )


def council_policy() -> ArchiveRetention:
    policy, _created = ArchiveRetention.objects.get_or_create(committee=None)
    return policy


def archive_months(meeting: Meeting, *, council: ArchiveRetention | None = None) -> int | None:
    """Months the meeting's archive is kept (None: forever): the committee's own setting if it
    has one, else the council's."""
    own = ArchiveRetention.objects.filter(committee_id=meeting.committee_id).first()
    if own is not None:
        return own.archive_months or None
    council = council or council_policy()
    return council.archive_months or None


def _ended(meeting: Meeting) -> datetime:
    return meeting.ended_at or meeting.starts_at


@transaction.atomic
def retention_update(
    *,
    actor: Any,
    archive_months: int | None,
    recording_days: int,
    committees: dict[int, int | None],
) -> ArchiveRetention:
    """Set the council-wide periods and each committee's own (``None``: as the council; 0:
    forever). Audited."""
    council = ArchiveRetention.objects.select_for_update().get(pk=council_policy().pk)
    before = {"archive_months": council.archive_months, "recording_days": council.recording_days}
    council.archive_months = archive_months or None
    council.recording_days = recording_days
    council.save()
    changes = model_changes(council, ["archive_months", "recording_days"], before)
    for committee_id, months in committees.items():
        current = ArchiveRetention.objects.filter(committee_id=committee_id).first()
        old = None if current is None else current.archive_months or 0
        if months == old:
            continue
        if months is None:
            current.delete()
        else:
            ArchiveRetention.objects.update_or_create(
                committee_id=committee_id, defaults={"archive_months": months or None}
            )
        changes[f"committee {committee_id}"] = [old, months]
    if changes:
        audit_record(actor=actor, action="webcast.retention_update", changes=changes)
    return council


def _delete_recordings(meeting: Meeting) -> int:
    from .services import recordings_dir

    directory = recordings_dir(meeting)
    count = sum(1 for path in directory.rglob("*") if path.is_file()) if directory.exists() else 0
    shutil.rmtree(directory, ignore_errors=True)
    return count


def recordings_remove(*, meeting: Meeting, days: int) -> bool:
    """Delete the meeting's safety recordings (idempotent: False if already done)."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.recordings_removed_at is not None:
            return False
        files = _delete_recordings(meeting)
        archive = dict(meeting.archive or {})
        archive.pop("recording", None)
        meeting.archive = archive
        meeting.recordings_removed_at = timezone.now()
        meeting.save(update_fields=["archive", "recordings_removed_at", "updated_at"])
        audit_record(
            actor=None,
            action="meeting.recordings_removed",
            target=meeting,
            changes={"files": files, "days": days},
        )
    return True


def archive_remove(*, meeting: Meeting, months: int) -> bool:
    """Delete the meeting's archive (and anything left of its live stream and its safety
    recordings); idempotent: False if already done."""
    from .services import archive_prefix, live_dir

    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.archive_removed_at is not None:
            return False
        files = storage.delete_tree(archive_prefix(meeting))
        shutil.rmtree(live_dir(meeting), ignore_errors=True)
        now = timezone.now()
        if meeting.recordings_removed_at is None:
            files += _delete_recordings(meeting)
            meeting.recordings_removed_at = now
        meeting.archive = {"removed_months": months}
        meeting.archive_state = "removed"
        meeting.archive_removed_at = now
        meeting.captions_at = None
        meeting.save()
        named = SpeakerMark.objects.filter(meeting=meeting, role=SpeakerMark.Role.PUBLIC)
        speakers = named.exclude(name="").update(name="")
        audit_record(
            actor=None,
            action="meeting.archive_removed",
            target=meeting,
            changes={"files": files, "months": months, "public_speakers": speakers},
        )
    return True


def retention_apply(*, now: datetime | None = None) -> dict[str, int]:
    """The daily job: remove archives past their period, then safety recordings past theirs."""
    now = now or timezone.now()
    council = council_policy()
    removed = {"archives": 0, "recordings": 0}
    archived = Meeting.objects.filter(status=S.ARCHIVED, archive_removed_at__isnull=True)
    for meeting in archived.iterator():
        months = archive_months(meeting, council=council)
        if months is not None and add_months(_ended(meeting), months) <= now:
            removed["archives"] += archive_remove(meeting=meeting, months=months)
    days = council.recording_days
    due = Meeting.objects.filter(
        status__in=[S.ENDED, S.ARCHIVED],
        recordings_removed_at__isnull=True,
        ended_at__lte=now - timedelta(days=days),
    ).exclude(archive_state__in=["queued", "running", "failed"])  # the archive still needs them
    for meeting in due.iterator():
        removed["recordings"] += recordings_remove(meeting=meeting, days=days)
    return removed
