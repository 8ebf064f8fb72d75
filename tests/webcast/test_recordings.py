"""Safety recordings are private: kept outside MEDIA_ROOT, downloaded by staff only through a
view that checks, audits and honours range requests; older installs' files are moved."""

import importlib
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse

from engagement.audit.models import AuditEntry
from webcast import services
from webcast.downloads import requested_range
from webcast.models import IngestRun, Meeting

from .factories import make_meeting

S = Meeting.Status
BODY = bytes(range(256)) * 40  # 10,240 bytes standing in for MPEG-TS


def _recorded(staff) -> tuple[Meeting, IngestRun]:
    meeting = services.meeting_transition(actor=staff, meeting=make_meeting(actor=staff), to=S.LIVE)
    run = services.ingest_run_start(meeting=meeting)
    path = Path(run.recording)
    path.parent.mkdir(parents=True)
    path.write_bytes(BODY)
    return meeting, run


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=5-2", False),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_requested_range(header, expected):
    assert requested_range(header, 1000) == expected


@pytest.mark.django_db
def test_recordings_are_outside_media_root(staff, settings):
    meeting, run = _recorded(staff)
    assert Path(run.recording).is_relative_to(Path(settings.WEBCAST_PRIVATE_ROOT))
    assert not Path(run.recording).is_relative_to(Path(settings.MEDIA_ROOT))


@pytest.mark.django_db
def test_staff_download_a_part_whole_and_by_range(staff, staff_client):
    meeting, run = _recorded(staff)
    url = reverse("webcast_staff:run_recording", args=[meeting.pk, run.number])
    page = staff_client.get(reverse("webcast_staff:meeting", args=[meeting.pk]))
    assert page.status_code == 200
    assert f'href="{url}"' in page.content.decode()

    whole = staff_client.get(url)
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == BODY
    assert whole["Content-Disposition"] == (
        f'attachment; filename="meeting-{meeting.pk}-safety-recording-part-1.ts"'
    )
    assert whole["Accept-Ranges"] == "bytes"
    assert "no-store" in whole["Cache-Control"]

    part = staff_client.get(url, HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 1000-1999/{len(BODY)}"
    assert b"".join(part.streaming_content) == BODY[1000:2000]
    tail = staff_client.get(url, HTTP_RANGE="bytes=-24")
    assert b"".join(tail.streaming_content) == BODY[-24:]
    outside = staff_client.get(url, HTTP_RANGE=f"bytes={len(BODY)}-")
    assert outside.status_code == 416
    assert outside["Content-Range"] == f"bytes */{len(BODY)}"
    # The whole download is audited once; a player's follow-on range requests are not.
    entries = AuditEntry.objects.filter(action="meeting.recording_download")
    assert entries.count() == 1
    assert entries.get().changes == {"file": f"webcast/recordings/{meeting.pk}/part-0001.ts"}


@pytest.mark.django_db
def test_nobody_else_gets_a_recording_and_missing_ones_are_404(
    client, resident_client, staff_client, staff
):
    meeting, run = _recorded(staff)
    url = reverse("webcast_staff:run_recording", args=[meeting.pk, run.number])
    assert client.get(url).status_code == 404
    assert resident_client.get(url).status_code == 404
    for missing in [
        reverse("webcast_staff:run_recording", args=[meeting.pk, 7]),
        reverse("webcast_staff:recording", args=[meeting.pk]),  # not archived yet
        reverse("webcast_staff:run_recording", args=[meeting.pk + 100, 1]),
    ]:
        assert staff_client.get(missing).status_code == 404, missing
    Path(run.recording).unlink()
    assert staff_client.get(url).status_code == 404
    assert staff_client.post(url).status_code == 405
    assert not AuditEntry.objects.filter(action="meeting.recording_download").exists()


@pytest.mark.django_db
def test_a_stored_path_outside_the_private_root_is_never_served(staff, staff_client, settings):
    meeting, run = _recorded(staff)
    outside = Path(settings.MEDIA_ROOT) / "elsewhere.ts"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(BODY)
    IngestRun.objects.filter(pk=run.pk).update(recording=str(outside))
    Meeting.objects.filter(pk=meeting.pk).update(archive={"recording": "../media/elsewhere.ts"})
    for url in [
        reverse("webcast_staff:run_recording", args=[meeting.pk, run.number]),
        reverse("webcast_staff:recording", args=[meeting.pk]),
    ]:
        assert staff_client.get(url).status_code == 404


@pytest.mark.django_db
def test_with_nginx_the_view_hands_over_by_x_accel_redirect(staff, staff_client, settings):
    settings.WEBCAST_PRIVATE_ACCEL_PREFIX = "/private-recordings/"
    meeting, run = _recorded(staff)
    response = staff_client.get(
        reverse("webcast_staff:run_recording", args=[meeting.pk, run.number])
    )
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == (
        f"/private-recordings/webcast/recordings/{meeting.pk}/part-0001.ts"
    )
    assert response.content == b""


@pytest.mark.django_db
def test_the_migration_moves_recordings_out_of_media_root(staff, settings):
    meeting = make_meeting(actor=staff)
    media = Path(settings.MEDIA_ROOT)
    old_dir = media / "webcast" / "recordings" / str(meeting.pk)
    old_dir.mkdir(parents=True)
    (old_dir / "part-0001.ts").write_bytes(BODY)
    (old_dir / "upload.mp4").write_bytes(b"upload")
    run = IngestRun.objects.create(
        meeting=meeting,
        number=1,
        started_at=meeting.starts_at,
        recording=str(old_dir / "part-0001.ts"),
    )
    gone = IngestRun.objects.create(
        meeting=meeting,
        number=2,
        started_at=meeting.starts_at,
        recording=str(old_dir / "part-0002.ts"),
    )
    archive_dir = media / "webcast" / "archive" / str(meeting.pk)
    archive_dir.mkdir(parents=True)
    (archive_dir / "recording.mkv").write_bytes(b"joined")
    (archive_dir / "recording-parts.txt").write_text("file 'x'\n")
    (archive_dir / "meeting.mp4").write_bytes(b"mp4")
    Meeting.objects.filter(pk=meeting.pk).update(
        archive={"mp4": f"webcast/archive/{meeting.pk}/meeting.mp4",
                 "recording": f"webcast/archive/{meeting.pk}/recording.mkv"}
    )  # fmt: skip

    migration = importlib.import_module("webcast.migrations.0005_private_recordings")
    migration.forwards(apps, None)
    migration.forwards(apps, None)  # a second run finds nothing more to do

    private = Path(settings.WEBCAST_PRIVATE_ROOT) / "webcast" / "recordings" / str(meeting.pk)
    run.refresh_from_db()
    assert Path(run.recording) == private / "part-0001.ts"
    assert Path(run.recording).read_bytes() == BODY
    gone.refresh_from_db()
    assert Path(gone.recording) == private / "part-0002.ts"  # absent before, absent after
    assert (private / "upload.mp4").read_bytes() == b"upload"
    assert (private / "recording.mkv").read_bytes() == b"joined"
    assert not (media / "webcast" / "recordings").exists()
    assert sorted(p.name for p in archive_dir.iterdir()) == ["meeting.mp4"]
    meeting.refresh_from_db()
    assert meeting.archive["recording"] == f"webcast/recordings/{meeting.pk}/recording.mkv"
    assert meeting.archive["mp4"] == f"webcast/archive/{meeting.pk}/meeting.mp4"
