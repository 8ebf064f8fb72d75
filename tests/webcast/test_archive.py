"""The archive: chapters placed by program date time, captions, and the real archive job
(MP4, chapters, poster, thumbnails, joined safety recording) on an ffmpeg-made meeting."""

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from engagement.audit.models import AuditEntry
from engagement.notifications.models import Notification
from webcast import archive, pipeline, selectors, services
from webcast.models import Meeting

from .factories import ffmpeg_bin, make_meeting

S = Meeting.Status
T0 = datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC)


def seg(uri: str, duration: float, at: datetime) -> pipeline.Segment:
    return pipeline.Segment(uri, duration, at.isoformat(), False)


# Two runs with a 5 s gap between them (ffmpeg restarted): 0–6 s, then 11–15 s on the clock.
SEGMENTS = [
    seg("r001_0.ts", 2.0, T0),
    seg("r001_1.ts", 2.0, T0 + timedelta(seconds=2)),
    seg("r001_2.ts", 2.0, T0 + timedelta(seconds=4)),
    seg("r002_3.ts", 2.0, T0 + timedelta(seconds=11)),
    seg("r002_4.ts", 2.0, T0 + timedelta(seconds=13)),
]


@pytest.mark.parametrize(
    ("offset", "position"),
    [(-3, 0.0), (0, 0.0), (1.5, 1.5), (5.25, 5.25), (8, 6.0), (11, 6.0), (12.5, 7.5), (15, None)],
)
def test_wall_clock_to_position_skips_gaps(offset, position):
    assert archive.position_at(SEGMENTS, T0 + timedelta(seconds=offset)) == position


def test_chapters_and_their_webvtt():
    marks = [
        (1, "1. Apologies", T0 + timedelta(seconds=1)),
        (2, "2. Budget --> cuts", T0 + timedelta(seconds=9)),  # in the gap: starts at 6 s
        (3, "3. Ignored (same instant)", T0 + timedelta(seconds=12)),
        (4, "4. Any other business", T0 + timedelta(seconds=12)),
        (5, "5. After the end", T0 + timedelta(seconds=60)),
    ]
    chapters = archive.chapters(marks, SEGMENTS)
    assert chapters == [
        archive.Chapter(1.0, 6.0, "1. Apologies", 1),
        archive.Chapter(6.0, 7.0, "2. Budget --> cuts", 2),
        archive.Chapter(7.0, 10.0, "4. Any other business", 4),
    ]
    assert archive.chapters_vtt(chapters) == (
        "WEBVTT\n\n"
        "chapter-1\n00:00:01.000 --> 00:00:06.000\n1. Apologies\n\n"
        "chapter-2\n00:00:06.000 --> 00:00:07.000\n2. Budget -> cuts\n\n"
        "chapter-3\n00:00:07.000 --> 00:00:10.000\n4. Any other business\n"
    )


def test_captions_from_srt_and_webvtt():
    srt = "1\r\n00:00:01,500 --> 00:00:04,000\r\nGood evening.\r\n\r\n2\r\n01:02:03,004 --> 01:02:05,000\r\nItem one.\r\nSecond line.\r\n"  # noqa: E501
    assert archive.captions_to_vtt(srt) == (
        "WEBVTT\n\n00:00:01.500 --> 00:00:04.000\nGood evening.\n\n"
        "01:02:03.004 --> 01:02:05.000\nItem one.\nSecond line.\n"
    )
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.000\nHello"
    assert archive.captions_to_vtt(vtt) == vtt + "\n"
    for bad, message in [
        ("", "empty"),
        ("WEBVTT\n\nno cues here", "no captions"),
        ("1\nhello there\n", "Caption 1 has no start and end time"),
        ("1\n00:00:01,000 --> 00:99:00,000\nx\n", "Caption 1 has a time that cannot be read"),
        ("<html>a web page</html>", "Caption 1 has no start and end time"),
    ]:
        with pytest.raises(archive.CaptionError, match=message):
            archive.captions_to_vtt(bad)


def _ffmpeg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_bin(), *args], capture_output=True, text=True, check=False)  # noqa: S603


def _info(path: Path) -> pipeline.MediaInfo:
    return pipeline.parse_media_info(_ffmpeg(*pipeline.probe_args(str(path))).stderr)


def streamed_meeting(staff):
    """A live meeting with two real-time ffmpeg runs (as after a restart) and two agenda marks:
    returns the meeting, its two items and the program date time the second run starts at."""
    meeting = make_meeting(actor=staff, ladder="240")
    one = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Apologies")
    two = services.agenda_item_create(actor=staff, meeting=meeting, number="2", title="Budget")
    meeting = services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    live = services.live_dir(meeting)
    live.mkdir(parents=True)
    recordings = services.recordings_dir(meeting)
    recordings.mkdir(parents=True)
    # Two runs in real time, as after a restart: two parts of the safety recording, and
    # program date times that follow the clock.
    for number in (1, 2):
        run = services.ingest_run_start(meeting=meeting)
        assert run.recording == str(recordings / f"part-{number:04d}.ts")
        plan = pipeline.build(
            pipeline.Source("test", width=426, height=240, duration=4, realtime=True),
            pipeline.Outputs(live, recording=Path(run.recording), run_number=number),
            input_height=240,
            ladder=(240,),
            encoding=pipeline.Encoding(preset="ultrafast"),
            progress=None,
        )
        assert _ffmpeg(*plan.args).returncode == 0
        services.ingest_run_end(run=run, exit_code=0, planned=True)
    segments = pipeline.parse_media_playlist((live / "240p" / "index.m3u8").read_text())
    assert len(segments) == 4
    start = datetime.fromisoformat(segments[0].program_date_time)
    second_run = datetime.fromisoformat(segments[2].program_date_time)
    services.meeting_now_on_item(actor=staff, meeting=meeting, item=one, at=start)
    services.meeting_now_on_item(
        actor=staff, meeting=meeting, item=two, at=second_run + timedelta(seconds=1)
    )
    return meeting, one, two, second_run


@pytest.mark.django_db(transaction=True)
def test_the_archive_job_on_a_real_meeting(staff, settings):
    meeting, one, two, second_run = streamed_meeting(staff)
    recordings = services.recordings_dir(meeting)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)  # queues the job

    meeting.refresh_from_db()
    assert meeting.status == S.ARCHIVED
    assert (meeting.archive_state, meeting.archive_progress) == ("done", 100)
    out = Path(settings.MEDIA_ROOT) / services.archive_prefix(meeting)
    # The ladder is in the archive storage (here MEDIA_ROOT) and the live copy has gone.
    assert not services.live_dir(meeting).exists()
    assert (out / "hls" / "master.m3u8").exists()
    vod = pipeline.parse_media_playlist((out / "hls" / "240p" / "index.m3u8").read_text())
    assert [s.uri[:4] for s in vod] == ["r001", "r001", "r002", "r002"]
    assert all((out / "hls" / "240p" / s.uri).exists() for s in vod)
    mp4 = _info(out / "meeting.mp4")
    assert mp4.duration == pytest.approx(8.0, abs=0.15)
    assert (mp4.width, mp4.height, mp4.has_audio) == (426, 240, True)
    assert (out / "chapters.vtt").read_text() == (
        "WEBVTT\n\n"
        "chapter-1\n00:00:00.000 --> 00:00:05.000\n1. Apologies\n\n"
        "chapter-2\n00:00:05.000 --> 00:00:08.000\n2. Budget\n"
    )
    assert _info(out / "poster.jpg").width == 1280
    assert _info(out / f"item-{two.pk}.jpg").width == 320
    joined_path = recordings / "recording.mkv"
    joined = _info(joined_path)
    assert joined.duration == pytest.approx(8.0, abs=0.2)
    assert meeting.archive["recording_parts"] == 2
    decode = _ffmpeg(*pipeline.decode_args(str(joined_path)))
    assert (decode.returncode, decode.stderr) == (0, "")
    # Nothing of the safety recording is under MEDIA_ROOT (which the web server serves).
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if "recording" in p.name]
    assert AuditEntry.objects.filter(action="meeting.archived", actor=None).count() == 1

    from django.test import Client

    page = Client().get(meeting.get_absolute_url()).content.decode()
    assert f'data-hls="/media/webcast/archive/{meeting.pk}/hls/master.m3u8"' in page
    assert f'poster="/media/webcast/archive/{meeting.pk}/poster.jpg"' in page
    assert f'<track kind="chapters" src="/media/webcast/archive/{meeting.pk}/chapters.vtt"' in page
    assert "Download the recording</a> (MP4," in page
    assert f'src="/media/webcast/archive/{meeting.pk}/item-{two.pk}.jpg"' in page
    # The safety recording (everything received) is linked for staff only: not on the public
    # page, not in the public API.
    assert "recording.mkv" not in page
    public = Client().get(f"/api/meetings/{meeting.pk}/").json()["recording"]
    assert public["mp4"].endswith("/meeting.mp4")
    assert "recording" not in public
    assert selectors.archive_urls(meeting, staff=True)["recording"] == reverse(
        "webcast_staff:recording", args=[meeting.pk]
    )

    # A corrected agenda time moves the chapter (and its thumbnail follows).
    mark = meeting.item_marks.get(item=two)
    services.item_mark_update(actor=staff, mark=mark, at=second_run + timedelta(seconds=2))
    assert (
        (out / "chapters.vtt")
        .read_text()
        .endswith("chapter-2\n00:00:06.000 --> 00:00:08.000\n2. Budget\n")
    )
    meeting.refresh_from_db()
    assert meeting.archive["chapter_starts"] == {str(one.pk): 0.0, str(two.pk): 6.0}

    # Idempotent: running it again changes nothing.
    before = (out / "meeting.mp4").stat().st_mtime_ns
    services.meeting_archive_build(meeting_id=meeting.pk)
    assert (out / "meeting.mp4").stat().st_mtime_ns == before


@pytest.mark.django_db
def test_archive_waits_while_the_stream_is_still_stopping(staff):
    meeting = make_meeting(actor=staff)
    services.meeting_transition(actor=staff, meeting=meeting, to=S.LIVE)
    services.ingest_run_start(meeting=meeting)  # still open
    Meeting.objects.filter(pk=meeting.pk).update(status=S.ENDED)
    assert services.meeting_archive_build(meeting_id=meeting.pk).archive_state == ""


@pytest.mark.django_db
def test_staff_upload_and_edit_captions(staff_client, staff, settings):
    meeting = make_meeting(actor=staff)
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nGood evening.\n"
    early = staff_client.post(url, {"form": "captions", "file": SimpleUploadedFile("c.srt", srt)})
    assert early.status_code == 400
    assert "Captions can be added once the meeting has ended." in early.content.decode()
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    response = staff_client.post(
        url, {"form": "captions", "file": SimpleUploadedFile("c.srt", srt)}
    )
    assert response.status_code == 302
    path = Path(settings.MEDIA_ROOT) / services.captions_name(meeting)
    assert path.read_text() == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nGood evening.\n"
    page = staff_client.get(url).content.decode()
    assert "Good evening." in page  # shown for editing
    edited = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nGood evening, everyone.\n"
    assert staff_client.post(url, {"form": "captions", "captions": edited}).status_code == 302
    assert path.read_text() == edited
    for data, message in [
        ({"file": SimpleUploadedFile("c.srt", b"\xff\xfe\x00binary")}, "must be text (UTF-8)"),
        ({"captions": "just some words"}, "Caption 1 has no start and end time"),
        ({"captions": ""}, "Choose a captions file or enter the captions."),
    ]:
        bad = staff_client.post(url, {"form": "captions", **data})
        assert bad.status_code == 400
        assert message in bad.content.decode()
    assert path.read_text() == edited
    assert AuditEntry.objects.filter(action="meeting.captions").count() == 2


@pytest.mark.django_db
def test_captions_reminder_after_ten_days_once(staff, django_capture_on_commit_callbacks):
    meeting = make_meeting(actor=staff)
    Meeting.objects.filter(pk=meeting.pk).update(
        status=S.ARCHIVED, ended_at=timezone.now() - timedelta(days=11)
    )
    recent = make_meeting(actor=staff, title="Recent")
    Meeting.objects.filter(pk=recent.pk).update(
        status=S.ARCHIVED, ended_at=timezone.now() - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.captions_reminders_send() == 1
        assert services.captions_reminders_send() == 0
    note = Notification.objects.get(user=staff)
    assert note.kind == "updates"
    assert note.subject == f"Captions needed: {meeting}"
    assert note.url == reverse("webcast_staff:meeting", args=[meeting.pk])


@pytest.mark.django_db
def test_upload_a_recording_of_a_meeting_that_was_not_webcast(
    staff_client, staff, tmp_path, settings, django_capture_on_commit_callbacks
):
    meeting = make_meeting(actor=staff, ladder="360,240")
    item = services.agenda_item_create(actor=staff, meeting=meeting, number="1", title="Budget")
    url = reverse("webcast_staff:meeting", args=[meeting.pk])
    video = tmp_path / "chamber.mp4"
    made = _ffmpeg(
        "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi",
        "-i", "sine", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
        "-shortest", str(video),
    )  # fmt: skip
    assert made.returncode == 0

    def upload(name: str, data: bytes):
        return staff_client.post(url, {"form": "upload", "video": SimpleUploadedFile(name, data)})

    early = upload("chamber.mp4", video.read_bytes())
    assert early.status_code == 400
    assert "A recording can be uploaded once the meeting has ended." in early.content.decode()
    services.meeting_transition(actor=staff, meeting=meeting, to=S.ENDED)
    meeting.refresh_from_db()
    assert (meeting.status, meeting.archive_state) == (S.ENDED, "")  # nothing to archive
    for name, data, limit, message in [
        ("minutes.mp4", b"The minutes." * 10, 10**9, "is not a video that can be played"),
        ("virus.exe", video.read_bytes()[:500], 10**9, "must be a video (MP4, MOV"),
        ("chamber.mp4", video.read_bytes(), 1024, "must be smaller than 1.0\xa0KB"),
        ("empty.mp4", b"", 10**9, "The submitted file is empty."),
    ]:
        settings.WEBCAST_UPLOAD_MAX_BYTES = limit
        response = upload(name, data)
        assert response.status_code == 400, name
        assert message in response.content.decode(), name
    settings.WEBCAST_UPLOAD_MAX_BYTES = 10**9
    assert not list(services.recordings_dir(meeting).glob("*"))
    assert Meeting.objects.get(pk=meeting.pk).archive_state == ""

    with django_capture_on_commit_callbacks(execute=True):
        ok = upload("chamber.mp4", video.read_bytes())
    assert ok.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.status, meeting.archive_state) == (S.ARCHIVED, "done")
    archived = Path(settings.MEDIA_ROOT) / services.archive_prefix(meeting)
    master = (archived / "hls" / "master.m3u8").read_text()
    assert "360p/index.m3u8" in master
    assert "240p/index.m3u8" in master
    assert _info(archived / "meeting.mp4").duration == pytest.approx(5, abs=0.2)
    assert AuditEntry.objects.filter(action="meeting.recording_upload").count() == 1
    again = upload("chamber.mp4", video.read_bytes())
    assert again.status_code == 400
    assert "This meeting already has a recording." in again.content.decode()
    assert item.marks.count() == 0
