"""The supervisor for real: ffmpeg runs, is killed, comes back within 5 s, the gap is recorded,
and every safety-recording part plays end to end. Transactional: the supervisor's threads use
their own database connections, as in production."""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from engagement.audit.models import AuditEntry
from webcast import pipeline, services
from webcast.models import IngestGap, IngestRun, Meeting
from webcast.supervisor import MeetingSupervisor, desired_mode, rtmp_port

from .factories import ffmpeg_bin, make_meeting

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(check: Callable[[], object], timeout: float = 20, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def decode(path: Path) -> tuple[int, str, pipeline.MediaInfo]:
    run = subprocess.run(  # noqa: S603
        [ffmpeg_bin(), *pipeline.decode_args(str(path))], capture_output=True, text=True
    )
    probe = subprocess.run(  # noqa: S603
        [ffmpeg_bin(), *pipeline.probe_args(str(path))], capture_output=True, text=True
    )
    return run.returncode, run.stderr.strip(), pipeline.parse_media_info(probe.stderr)


@pytest.fixture
def supervise() -> Iterator[Callable[[Meeting], MeetingSupervisor]]:
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(meeting: Meeting, **options) -> MeetingSupervisor:
        options.setdefault("restart_delay", 0.5)
        options.setdefault("poll", 0.2)
        options.setdefault("encoding", pipeline.Encoding(preset="ultrafast"))
        supervisor = MeetingSupervisor(meeting.pk, **options)
        stop = threading.Event()
        thread = threading.Thread(target=supervisor.run, args=(stop,))
        thread.start()
        started.append((thread, stop))
        return supervisor

    yield start
    for thread, stop in started:
        stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive()


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[str]:
    """A local web server for ``directory`` (a camera or upstream server); yields its URL."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def live_meeting(**extra) -> Meeting:
    meeting = make_meeting(ladder="360,240", **extra)
    return services.meeting_transition(actor=None, meeting=meeting, to=Meeting.Status.LIVE)


def first_frame(meeting: Meeting, number: int) -> IngestRun:
    return wait_for(
        lambda: IngestRun.objects.filter(
            meeting=meeting, number=number, first_frame_at__isnull=False
        ).first(),
        what=f"run {number} to produce frames",
    )


def test_desired_mode():
    meeting = Meeting(status=Meeting.Status.LIVE, ingest_enabled=True)
    assert desired_mode(meeting) == "programme"
    meeting.status = Meeting.Status.ADJOURNED
    assert desired_mode(meeting) == "slate"
    meeting.status = Meeting.Status.SCHEDULED
    assert desired_mode(meeting) == "rehearsal"
    meeting.ingest_enabled = False
    assert desired_mode(meeting) is None
    meeting.ingest_enabled, meeting.status = True, Meeting.Status.ENDED
    assert desired_mode(meeting) is None


def test_killed_ffmpeg_is_restarted_the_gap_recorded_and_recordings_intact(supervise):
    meeting = live_meeting()
    supervisor = supervise(meeting)
    run1 = first_frame(meeting, 1)
    time.sleep(3)
    wait_for(lambda: Meeting.objects.get(pk=meeting.pk).health.get("frame", 0) > 25)
    health = Meeting.objects.get(pk=meeting.pk).health
    assert health["run"] == 1
    assert health["fps"] > 10
    assert health["bitrate_kbps"] > 100  # the recording's growth: the incoming bitrate
    assert health["dropped"] == 0

    os.kill(supervisor.process.pid, signal.SIGKILL)  # a crash
    killed_at = time.monotonic()
    run2 = first_frame(meeting, 2)
    assert time.monotonic() - killed_at < 5

    run1.refresh_from_db()
    assert run1.exit_code == -signal.SIGKILL
    assert run1.error == "ffmpeg stopped unexpectedly (SIGKILL)."
    gap = IngestGap.objects.get(meeting=meeting)
    assert gap.started_at == run1.ended_at
    assert gap.ended_at == run2.first_frame_at
    assert 0 < gap.seconds < 5
    assert AuditEntry.objects.filter(action="meeting.stream_gap").count() == 1
    assert AuditEntry.objects.filter(action="meeting.stream_restored").count() == 1
    time.sleep(2.5)

    services.meeting_transition(actor=None, meeting=meeting, to=Meeting.Status.ENDED)
    wait_for(
        lambda: IngestRun.objects.filter(meeting=meeting, number=2, ended_at__isnull=False).exists()
    )
    run2.refresh_from_db()
    assert run2.error == ""
    assert IngestRun.objects.filter(meeting=meeting).count() == 2
    assert IngestGap.objects.filter(meeting=meeting).count() == 1  # a planned stop is no gap

    # Every part of the safety recording plays end to end, the killed one up to its last packet.
    parts = sorted(Path(services.recordings_dir(meeting)).glob("part-*.ts"))
    assert [p.name for p in parts] == ["part-0001.ts", "part-0002.ts"]
    for part in parts:
        code, errors, info = decode(part)
        assert code == 0
        assert errors == ""
        assert (info.width, info.height) == (1280, 720)
        assert info.duration > 2.5

    # The playlists carry both runs, the restart marked as a discontinuity (the meeting has
    # ended: the archive job has moved them from the live directory to the archive storage).
    archived = Path(settings.MEDIA_ROOT) / services.archive_prefix(meeting) / "hls"
    playlist = (archived / "240p" / "index.m3u8").read_text()
    segments = pipeline.parse_media_playlist(playlist)
    assert segments[0].uri.startswith("r001_")
    assert segments[-1].uri.startswith("r002_")
    restart = next(i for i, s in enumerate(segments) if s.uri.startswith("r002_"))
    assert segments[restart].discontinuity
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


def test_adjourning_switches_to_the_slate_and_resuming_back_without_a_gap(supervise):
    meeting = live_meeting()
    supervise(meeting)
    first_frame(meeting, 1)
    services.meeting_transition(actor=None, meeting=meeting, to=Meeting.Status.ADJOURNED)
    slate = first_frame(meeting, 2)
    assert slate.mode == "slate"
    assert slate.recording == ""  # nothing said during the break is recorded
    services.meeting_transition(actor=None, meeting=meeting, to=Meeting.Status.LIVE)
    back = first_frame(meeting, 3)
    assert back.mode == "programme"
    assert back.recording.endswith("part-0003.ts")
    assert not IngestGap.objects.filter(meeting=meeting).exists()
    assert list(IngestRun.objects.filter(meeting=meeting).values_list("error", flat=True)) == [
        "",
        "",
        "",
    ]
    playlist = (services.live_dir(meeting) / "360p" / "index.m3u8").read_text()
    assert {s.uri[:4] for s in pipeline.parse_media_playlist(playlist)} >= {"r001", "r002"}


@pytest.mark.parametrize("problem", ["unreachable", "corrupt"])
def test_an_input_that_cannot_be_read_shows_its_error_and_backs_off(
    supervise, tmp_path, staff_client, problem
):
    """A camera that does not answer, or answers with bytes that are not video: staff see why in
    the control room, and the supervisor backs off rather than crash-looping."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "camera.ts").write_bytes(bytes(range(7, 250)) * 4000)  # no MPEG-TS sync bytes
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with serving(upstream) as base:
        url = f"rtsp://127.0.0.1:{port}/cam" if problem == "unreachable" else f"{base}/camera.ts"
        meeting = live_meeting(source=Meeting.Source.PULL, pull_url=url)
        supervise(meeting, restart_delay=0.5)
        wait_for(lambda: Meeting.objects.get(pk=meeting.pk).ingest_error, what="an error")
        time.sleep(3)
    meeting.refresh_from_db()
    assert meeting.ingest_error.startswith("The video source could not be read: ")
    if problem == "unreachable":
        assert "Connection refused" in meeting.ingest_error
    runs = IngestRun.objects.filter(meeting=meeting).count()
    # 0.5, 1, 2 s back-off: at most four attempts in this time, not a tight loop.
    assert 2 <= runs <= 4
    assert not IngestRun.objects.filter(meeting=meeting, first_frame_at__isnull=False).exists()
    assert not IngestGap.objects.filter(meeting=meeting).exists()
    page = staff_client.get(reverse("webcast_staff:control", args=[meeting.pk])).content.decode()
    assert "The stream has a problem" in page
    assert "The video source could not be read: " in page


def push(url: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603
        [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
         "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_rtmp_push_with_the_wrong_key_is_refused_and_the_right_key_is_taken(
    supervise, settings, caplog
):
    """Two real ffmpeg encoders push: the one with a wrong key is refused at the gate and
    logged, and ffmpeg (listening behind the gate) never sees it, so the same run then takes
    the real encoder's push."""
    # The gate's own level, whatever an earlier test (an embedded Celery worker sets the root
    # logger's) left behind.
    caplog.set_level(logging.INFO, logger="webcast")
    settings.WEBCAST_RTMP_LISTEN_HOST = "127.0.0.1"
    meeting = live_meeting(source=Meeting.Source.RTMP)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free: the meeting's port is made this one
    settings.WEBCAST_RTMP_PORT_BASE = port - meeting.pk % 1000
    assert rtmp_port(meeting) == port
    supervise(meeting)
    wait_for(lambda: IngestRun.objects.filter(meeting=meeting).exists())
    wait_for(lambda: _accepts(port), what="the gate to listen")

    intruder = push(f"rtmp://127.0.0.1:{port}/not-the-key/live", 3)
    assert intruder.wait(timeout=15) != 0  # refused: the encoder reports it could not connect
    wait_for(
        lambda: (
            Meeting.objects.get(pk=meeting.pk).ingest_error
            == "A push with a wrong stream key was refused."
        ),
        what="the wrong key to be shown to staff",
    )
    assert any("wrong stream key" in r.getMessage() for r in caplog.records)
    # Something that is not RTMP at all is dropped too.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as stranger:
        stranger.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(1600))
        # Closed, nothing said (a reset if our bytes were left unread); a timeout would fail.
        with contextlib.suppress(ConnectionResetError):
            assert stranger.recv(10) == b""
    # ffmpeg was not disturbed: still its first run, waiting, nothing recorded.
    run = IngestRun.objects.get(meeting=meeting)
    assert (run.number, run.ended_at, run.first_frame_at) == (1, None, None)
    assert not Path(run.recording).exists() or Path(run.recording).stat().st_size == 0

    encoder = push(f"rtmp://127.0.0.1:{port}/{meeting.stream_key}/live", 4)
    run = wait_for(
        lambda: IngestRun.objects.filter(meeting=meeting, first_frame_at__isnull=False).first(),
        what="the encoder's pictures",
    )
    assert run.number == 1
    assert encoder.wait(timeout=15) == 0
    assert Meeting.objects.get(pk=meeting.pk).ingest_error == ""
    services.meeting_ingest_set(actor=None, meeting=meeting, enabled=False)
    wait_for(lambda: IngestRun.objects.get(pk=run.pk).ended_at)
    code, _errors, info = decode(Path(IngestRun.objects.get(pk=run.pk).recording))
    assert code == 0
    assert (info.width, info.height) == (640, 360)  # the untouched input
    assert info.duration > 2.5


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_pull_from_an_hls_url(supervise, tmp_path):
    """A camera or an upstream server offering HLS over HTTP (a local web server here)."""
    upstream = tmp_path / "upstream"
    plan = pipeline.build(
        pipeline.Source("test", width=640, height=360, duration=20, realtime=False),
        pipeline.Outputs(upstream, recording=None, live=False),
        input_height=360,
        ladder=(360,),
        encoding=pipeline.Encoding(preset="ultrafast"),
        progress=None,
    )
    assert subprocess.run([ffmpeg_bin(), *plan.args], capture_output=True).returncode == 0  # noqa: S603
    with serving(upstream) as base:
        meeting = live_meeting(source=Meeting.Source.PULL, pull_url=f"{base}/360p/index.m3u8")
        supervise(meeting)
        run = first_frame(meeting, 1)
        wait_for(lambda: Meeting.objects.get(pk=meeting.pk).health.get("frame", 0) > 25)
        services.meeting_ingest_set(actor=None, meeting=meeting, enabled=False)
        wait_for(lambda: IngestRun.objects.get(pk=run.pk).ended_at)
    master = (services.live_dir(meeting) / "master.m3u8").read_text()
    assert "RESOLUTION=640x360" in master  # the ladder chose 360p: the input's own height
    assert "240p/index.m3u8" in master
    code, errors, info = decode(Path(IngestRun.objects.get(pk=run.pk).recording))
    assert (code, errors) == (0, "")
    assert (info.width, info.height) == (640, 360)


def test_a_rehearsal_stays_out_of_what_viewers_get(supervise):
    meeting = make_meeting(ladder="240")
    services.meeting_ingest_set(actor=None, meeting=meeting, enabled=True)
    supervise(meeting)
    rehearsal = first_frame(meeting, 1)
    assert (rehearsal.mode, rehearsal.recording) == ("rehearsal", "")
    wait_for(lambda: list(services.rehearsal_dir(meeting).glob("240p/r001_*.ts")))
    assert services.rehearsal_dir(meeting).name.startswith(f"{meeting.pk}-")
    assert len(services.rehearsal_dir(meeting).name) == len(str(meeting.pk)) + 25
    services.meeting_transition(actor=None, meeting=meeting, to=Meeting.Status.LIVE)
    live = first_frame(meeting, 2)
    assert live.mode == "programme"
    wait_for(lambda: (services.live_dir(meeting) / "240p" / "index.m3u8").exists())
    playlist = (services.live_dir(meeting) / "240p" / "index.m3u8").read_text()
    assert "r001_" not in playlist
    assert not IngestGap.objects.filter(meeting=meeting).exists()


def test_a_missing_ffmpeg_is_reported_not_crashed_on(supervise, settings):
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    meeting = live_meeting()
    supervisor = supervise(meeting, restart_delay=0.3)
    wait_for(lambda: Meeting.objects.get(pk=meeting.pk).ingest_error, what="the error")
    meeting.refresh_from_db()
    assert meeting.ingest_error.startswith("ffmpeg could not be started: ")
    assert supervisor.process is None
    assert not IngestRun.objects.filter(meeting=meeting, ended_at__isnull=True, number=1).exists()


def test_supervise_all_follows_which_streams_are_started():
    from webcast.supervisor import supervise_all

    one, two = live_meeting(), make_meeting(title="Not started")
    stop = threading.Event()
    thread = threading.Thread(
        target=supervise_all,
        args=(stop,),
        kwargs={
            "poll": 0.2,
            "restart_delay": 0.5,
            "encoding": pipeline.Encoding(preset="ultrafast"),
        },
    )
    thread.start()
    try:
        first_frame(one, 1)
        assert not IngestRun.objects.filter(meeting=two).exists()
        services.meeting_ingest_set(actor=None, meeting=two, enabled=True)
        assert first_frame(two, 1).mode == "rehearsal"
        services.meeting_ingest_set(actor=None, meeting=one, enabled=False)
        wait_for(lambda: IngestRun.objects.get(meeting=one, number=1).ended_at)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert IngestRun.objects.filter(ended_at__isnull=True).count() == 0
    assert not IngestGap.objects.exists()
