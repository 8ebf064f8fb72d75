"""Archive retention: per council and per committee, the daily job removing what is past its
period (archives, and safety recordings after their own shorter period), idempotent and
audited, the meeting page saying the recording is no longer available."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from engagement.audit.models import AuditEntry
from tests.factories import CommitteeFactory
from webcast import retention, services, storage
from webcast.models import ArchiveRetention, Meeting, SpeakerMark
from webcast.tasks import apply_retention

from .factories import make_meeting

S = Meeting.Status
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 31, 18, tzinfo=UTC), 1, datetime(2026, 2, 28, 18, tzinfo=UTC)),
        (datetime(2027, 11, 30, 9, tzinfo=UTC), 3, datetime(2028, 2, 29, 9, tzinfo=UTC)),
        (datetime(2026, 6, 15, tzinfo=UTC), 12, datetime(2027, 6, 15, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), 1, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_add_months(start, months, expected):
    assert retention.add_months(start, months) == expected


def archived(staff, *, committee=None, ended_days_ago: int = 0, speakers=()) -> Meeting:
    """An archived meeting with an archive in storage, a safety recording and speakers."""
    meeting = make_meeting(actor=staff, committee=committee)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    for name, role in speakers:
        services.meeting_speaker_set(actor=staff, meeting=meeting, name=name, role=role)
    run = services.ingest_run_start(meeting=meeting)
    Path(run.recording).parent.mkdir(parents=True)
    Path(run.recording).write_bytes(b"\x47" * 188)
    services.ingest_run_end(run=run, exit_code=0, planned=True)
    prefix = services.archive_prefix(meeting)
    for name in ("hls/master.m3u8", "hls/240p/r001_00000.ts", "meeting.mp4", "poster.jpg"):
        storage.put(f"{prefix}/{name}", b"data")
    ended = timezone.now() - timedelta(days=ended_days_ago)
    Meeting.objects.filter(pk=meeting.pk).update(
        status=S.ARCHIVED,
        ended_at=ended,
        ingest_enabled=False,
        archive_state="done",
        archive={
            "hls": f"{prefix}/hls/master.m3u8",
            "mp4": f"{prefix}/meeting.mp4",
            "poster": f"{prefix}/poster.jpg",
            "mp4_size": 4,
        },
    )
    return Meeting.objects.get(pk=meeting.pk)


def _files(meeting: Meeting) -> list[str]:
    return list(storage.walk(services.archive_prefix(meeting)))


def test_archives_are_kept_forever_by_default_and_safety_recordings_90_days(staff):
    old = archived(staff, ended_days_ago=3000)
    assert retention.retention_apply() == {"archives": 0, "recordings": 1}
    old.refresh_from_db()
    assert old.archive_removed_at is None
    assert len(_files(old)) == 4
    assert not services.recordings_dir(old).exists()
    assert "recording" not in old.archive
    entry = AuditEntry.objects.get(action="meeting.recordings_removed")
    assert entry.changes == {"files": 1, "days": 90}
    assert entry.actor is None


def test_council_and_committee_periods(staff, client):
    planning, licensing, scrutiny = (CommitteeFactory() for _ in range(3))
    retention.retention_update(
        actor=staff,
        archive_months=24,
        recording_days=30,
        committees={planning.pk: 6, licensing.pk: 0, scrutiny.pk: None},
    )
    public = ("Ann Resident", SpeakerMark.Role.PUBLIC)
    councillor = ("Cllr Jones", SpeakerMark.Role.COUNCILLOR)
    fresh_planning = archived(staff, committee=planning, ended_days_ago=20, speakers=[public])
    old_planning = archived(
        staff, committee=planning, ended_days_ago=200, speakers=[public, councillor]
    )
    old_licensing = archived(staff, committee=licensing, ended_days_ago=2000)
    scrutiny_two_years = archived(staff, committee=scrutiny, ended_days_ago=740)
    scrutiny_one_year = archived(staff, committee=scrutiny, ended_days_ago=365)

    assert apply_retention.delay().get() == {"archives": 2, "recordings": 2}

    gone = {m.pk for m in Meeting.objects.exclude(archive_removed_at=None)}
    assert gone == {old_planning.pk, scrutiny_two_years.pk}
    for meeting, months in ((old_planning, 6), (scrutiny_two_years, 24)):
        meeting.refresh_from_db()
        assert (meeting.archive_state, meeting.archive) == ("removed", {"removed_months": months})
        assert _files(meeting) == []
        assert not services.recordings_dir(meeting).exists()
        assert meeting.recordings_removed_at is not None
    for meeting in (fresh_planning, old_licensing, scrutiny_one_year):
        assert len(_files(meeting)) == 4
    # Safety recordings: 30 days council-wide, whatever the archive's period.
    assert services.recordings_dir(fresh_planning).exists()
    assert not services.recordings_dir(old_licensing).exists()
    assert not services.recordings_dir(scrutiny_one_year).exists()
    # Public speakers' names go with the recording; councillors' stay (public office).
    names = dict(old_planning.speaker_marks.values_list("role", "name"))
    assert names == {"public": "", "councillor": "Cllr Jones"}
    assert fresh_planning.speaker_marks.get().name == "Ann Resident"
    entry = AuditEntry.objects.get(action="meeting.archive_removed", target_id=str(old_planning.pk))
    assert entry.changes == {"files": 5, "months": 6, "public_speakers": 1}

    # The page says so, with the agenda still there; no player, no links to removed files.
    page = client.get(old_planning.get_absolute_url()).content.decode()
    assert "The recording of this meeting is no longer available" in page
    assert "kept for 6 months" in page
    assert "/media/webcast/archive/" not in page
    assert "There is no recording of this meeting." not in page
    api = client.get(f"/api/meetings/{old_planning.pk}/").json()
    assert api["recording"] == {}
    assert api["stream"] == ""

    # Idempotent: a second run finds nothing, and audits nothing.
    count = AuditEntry.objects.count()
    assert retention.retention_apply() == {"archives": 0, "recordings": 0}
    assert AuditEntry.objects.count() == count


def test_recordings_wait_while_the_archive_still_needs_them(staff):
    meeting = archived(staff, ended_days_ago=400)
    Meeting.objects.filter(pk=meeting.pk).update(status=S.ENDED, archive_state="failed")
    assert retention.retention_apply() == {"archives": 0, "recordings": 0}
    assert services.recordings_dir(meeting).exists()


def test_admins_set_the_periods(staff_client, admin_client_2fa, staff):
    planning = CommitteeFactory(name="Planning")
    url = reverse("webcast_staff:retention")
    assert staff_client.get(url).status_code == 403  # a council decision: admins only
    page = admin_client_2fa.get(url)
    assert page.status_code == 200
    assert "Planning: keep recordings for (months)" in page.content.decode()
    field = f"committee_{planning.pk}"
    for data, message in [
        ({"archive_months": "0", "recording_days": "30"}, "greater than or equal to 1"),
        ({"archive_months": "", "recording_days": ""}, "This field is required"),
        ({"archive_months": "x", "recording_days": "30"}, "Enter a whole number"),
        ({"recording_days": "30", field: "-1"}, "greater than or equal to 0"),
    ]:
        bad = admin_client_2fa.post(url, data)
        assert bad.status_code == 400
        assert message in bad.content.decode()
    assert not AuditEntry.objects.filter(action="webcast.retention_update").exists()
    ok = admin_client_2fa.post(url, {"archive_months": "36", "recording_days": "30", field: "0"})
    assert ok.status_code == 302
    council = ArchiveRetention.objects.get(committee=None)
    assert (council.archive_months, council.recording_days) == (36, 30)
    assert ArchiveRetention.objects.get(committee=planning).archive_months is None  # forever
    meeting = make_meeting(actor=staff, committee=planning)
    assert retention.archive_months(meeting) is None
    entry = AuditEntry.objects.get(action="webcast.retention_update")
    assert entry.changes["archive_months"] == [None, 36]
    assert entry.changes[f"committee {planning.pk}"] == [None, 0]
    # Back to the council's period.
    admin_client_2fa.post(url, {"archive_months": "36", "recording_days": "30", field: ""})
    assert not ArchiveRetention.objects.filter(committee=planning).exists()
    assert retention.archive_months(meeting) == 36
    assert settings.CELERY_BEAT_SCHEDULE["webcast-retention"]["task"] == (
        "webcast.tasks.apply_retention"
    )


def test_one_council_wide_row_and_one_row_per_committee():
    from django.db import IntegrityError, transaction

    retention.council_policy()
    committee = CommitteeFactory()
    ArchiveRetention.objects.create(committee=committee, archive_months=3)
    for extra in ({"committee": None}, {"committee": committee}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ArchiveRetention.objects.create(**extra)
