"""The supervisor: keeps one meeting's ffmpeg running, reports its health, records its gaps.

``python manage.py run_webcast <meeting>`` (or ``--all``) runs :class:`MeetingSupervisor` under
the process manager (systemd, the demo launcher). The loop, once a second:

* decides what ffmpeg should be doing from the database (:func:`desired_mode`): nothing, the
  programme (the meeting's source), or the adjournment slate;
* starts a run for it (a new :class:`~webcast.models.IngestRun`, a new recording file), reads
  ``-progress`` in a thread and stores the health about once a second;
* stops ffmpeg gracefully (SIGINT: it closes its segments and playlists) when the wanted mode
  changes, and restarts it after ``restart_delay`` when it dies unexpectedly, recording the gap;
  an input that keeps failing without producing a frame is retried with a growing delay (up to
  30 s) and its error shown in the control room, rather than a tight crash loop.

A run never reuses a recording file, so a restart cannot truncate what an earlier run wrote.
"""

from __future__ import annotations

import collections
import logging
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.translation import gettext as _

from . import pipeline, services
from .models import IngestRun, Meeting
from .rtmp_gate import RtmpGate, free_loopback_port

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


def ffmpeg_binary() -> str:
    """``FFMPEG_BINARY`` if set, else the binary shipped in the imageio-ffmpeg wheel."""
    if settings.FFMPEG_BINARY:
        return settings.FFMPEG_BINARY
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path_or_url: str, *, timeout: float = 15) -> pipeline.MediaInfo:
    """What ffmpeg can tell about an input without decoding it."""
    try:
        result = subprocess.run(  # noqa: S603 - a fixed binary and argument list
            [ffmpeg_binary(), *pipeline.probe_args(path_or_url)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return pipeline.MediaInfo(None, None, None, False, False)
    return pipeline.parse_media_info(result.stderr)


def desired_mode(meeting: Meeting) -> str | None:
    """What ffmpeg should be doing for ``meeting`` now."""
    if not meeting.ingest_enabled or meeting.status in {
        Meeting.Status.ENDED,
        Meeting.Status.ARCHIVED,
    }:
        return None
    if meeting.status == Meeting.Status.ADJOURNED:
        return IngestRun.Mode.SLATE
    if meeting.status == Meeting.Status.SCHEDULED:
        # Before going live: a rehearsal, into its own directory, so nothing of it ends up in
        # the playlists viewers (and the archive) get once the meeting is live.
        return IngestRun.Mode.REHEARSAL
    return IngestRun.Mode.PROGRAMME


def rtmp_port(meeting: Meeting) -> int:
    return settings.WEBCAST_RTMP_PORT_BASE + meeting.pk % 1000


def source_for(
    meeting: Meeting, mode: str, *, slate: Path | None = None, upstream_port: int = 0
) -> pipeline.Source:
    """What ffmpeg reads. A push goes to the RTMP gate on the meeting's public port, which lets
    only the right key through to ffmpeg listening on ``upstream_port`` on the loopback."""
    if mode == IngestRun.Mode.SLATE:
        return pipeline.Source("slate", image=str(slate), width=1280, height=720)
    if meeting.source == Meeting.Source.RTMP:
        return pipeline.Source(
            "rtmp",
            stream_key=meeting.stream_key,
            listen_host="127.0.0.1",
            listen_port=upstream_port,
        )
    if meeting.source == Meeting.Source.PULL:
        return pipeline.Source("pull", url=meeting.pull_url)
    return pipeline.Source("test", width=1280, height=720)


@dataclass
class RunResult:
    exit_code: int | None
    error: str
    planned: bool
    frames: int


class MeetingSupervisor:
    def __init__(
        self,
        meeting_id: int,
        *,
        restart_delay: float = 1.0,
        poll: float = 0.5,
        exit_when_idle: bool = False,
        encoding: pipeline.Encoding | None = None,
    ) -> None:
        self.meeting_id = meeting_id
        self.restart_delay = restart_delay
        self.poll = poll
        self.exit_when_idle = exit_when_idle
        self.encoding = encoding or pipeline.Encoding(preset=settings.WEBCAST_X264_PRESET)
        self.process: subprocess.Popen[str] | None = None
        self.run_record: IngestRun | None = None
        self._heights: tuple[int, ...] | None = None
        self.gate: RtmpGate | None = None
        self.stream_key = ""
        self.upstream_port: int | None = None

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        failures = 0
        try:
            while not stop.is_set():
                close_old_connections()
                meeting = Meeting.objects.get(pk=self.meeting_id)
                mode = desired_mode(meeting)
                if mode is None:
                    if self.exit_when_idle:
                        return
                    stop.wait(self.poll)
                    continue
                result = self._one_run(meeting, mode, stop)
                if result.planned or stop.is_set():
                    failures = 0
                    continue
                if result.frames:
                    failures = 0
                    delay = self.restart_delay
                else:
                    failures += 1
                    delay = min(self.restart_delay * 2 ** (failures - 1), MAX_BACKOFF)
                logger.warning(
                    "meeting %s: ffmpeg run ended (%s); restarting in %.1fs",
                    self.meeting_id,
                    result.error or result.exit_code,
                    delay,
                )
                stop.wait(delay)
        finally:
            if self.gate is not None:
                self.gate.stop()
            connection.close()

    def _gate_for(self, meeting: Meeting) -> None:
        """Open the meeting's public RTMP port (once; it stays open between runs)."""
        if self.gate is not None:
            return
        port = rtmp_port(meeting)
        try:
            self.gate = RtmpGate(
                settings.WEBCAST_RTMP_LISTEN_HOST,
                port,
                key=lambda: self.stream_key,
                upstream_port=lambda: self.upstream_port,
                refused=self._refused,
                label=f"meeting {meeting.pk}",
            ).start()
        except OSError as exc:
            raise pipeline.PipelineError(
                _("The RTMP port %(port)s cannot be opened: %(error)s")
                % {"port": port, "error": exc.strerror or exc}
            ) from exc

    def _refused(self, address: str) -> None:
        close_old_connections()
        try:
            services.ingest_error_set(
                meeting_id=self.meeting_id, error=_("A push with a wrong stream key was refused.")
            )
        finally:
            connection.close()

    def _one_run(self, meeting: Meeting, mode: str, stop: threading.Event) -> RunResult:
        run = services.ingest_run_start(meeting=meeting, mode=mode)
        self.run_record = run
        try:
            plan = self._plan(meeting, mode, run)
        except pipeline.PipelineError as exc:
            services.ingest_run_end(run=run, exit_code=None, error=str(exc))
            return RunResult(None, str(exc), False, 0)
        Path(plan.master).parent.mkdir(parents=True, exist_ok=True)
        if plan.recording is not None:
            plan.recording.parent.mkdir(parents=True, exist_ok=True)
        try:
            process = subprocess.Popen(  # noqa: S603 - a fixed binary and argument list
                [ffmpeg_binary(), *plan.args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            error = _("ffmpeg could not be started: %(error)s") % {"error": exc}
            services.ingest_run_end(run=run, exit_code=None, error=error)
            return RunResult(None, error, False, 0)
        self.process = process
        stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        frames = [0]
        readers = [
            threading.Thread(target=self._read_progress, args=(process, run, frames), daemon=True),
            threading.Thread(target=_read_lines, args=(process, stderr_tail), daemon=True),
        ]
        for reader in readers:
            reader.start()
        planned = False
        while process.poll() is None:
            if stop.wait(self.poll):
                planned = True
                break
            close_old_connections()
            current = Meeting.objects.get(pk=self.meeting_id)
            if desired_mode(current) != mode or (
                mode != IngestRun.Mode.SLATE and _source_changed(meeting, current)
            ):
                planned = True
                break
        if process.poll() is None:
            _stop_gracefully(process)
        for reader in readers:
            reader.join(timeout=5)
        exit_code = process.returncode
        error = _error_from(list(stderr_tail), exit_code, planned)
        if error and not frames[0] and exit_code is not None and exit_code > 0:
            # It never produced a picture: the source is unreachable, unsupported or corrupt.
            detail = error
            error = _("The video source could not be read: %(detail)s") % {"detail": detail}
        services.ingest_run_end(run=run, exit_code=exit_code, error=error, planned=planned)
        self.process = None
        return RunResult(exit_code, error, planned, frames[0])

    def _plan(self, meeting: Meeting, mode: str, run: IngestRun) -> pipeline.Plan:
        from .slate import slate_image

        slate = slate_image() if mode == IngestRun.Mode.SLATE else None
        self.upstream_port = None
        if meeting.source == Meeting.Source.RTMP and mode != IngestRun.Mode.SLATE:
            self._gate_for(meeting)
            self.stream_key = meeting.stream_key
            self.upstream_port = free_loopback_port()
        source = source_for(meeting, mode, slate=slate, upstream_port=self.upstream_port or 0)
        wanted = self._heights or pipeline.parse_ladder(meeting.ladder)
        height: int | None = None
        if source.kind in {"test", "slate"}:
            height = source.height if self._heights is None else None
        elif source.kind == "pull":
            height = probe(source.url).height
        recording = Path(run.recording) if run.recording else None
        if mode == IngestRun.Mode.REHEARSAL:
            out = services.rehearsal_dir(meeting)
        else:
            out = services.live_dir(meeting)
        plan = pipeline.build(
            source,
            pipeline.Outputs(out, recording=recording, run_number=run.number),
            ladder=wanted,
            input_height=height,
            encoding=self.encoding,
        )
        # Later runs (restarts, the slate) keep the first run's renditions, so the master
        # playlist and every media playlist stay the same.
        self._heights = tuple(rung.height for rung in plan.rungs)
        return plan

    def _read_progress(
        self,
        process: subprocess.Popen[str],
        run: IngestRun,
        frames: list[int],
    ) -> None:
        last_sent = 0.0
        last: tuple[float, int | None] | None = None
        started = time.monotonic()
        try:
            assert process.stdout is not None  # noqa: S101
            for progress in pipeline.parse_progress(process.stdout):
                if progress.frame and not frames[0]:
                    services.ingest_run_first_frame(run=run)
                frames[0] = progress.frame
                now = time.monotonic()
                if now - last_sent >= 1.0:
                    health = progress.as_dict()
                    # ffmpeg reports no bitrate with several outputs; the safety recording is
                    # the untouched input, so its growth is the incoming bitrate.
                    size = _size(run.recording)
                    if last is not None and size is not None and last[1] is not None:
                        seconds = progress.out_seconds - last[0]
                        if seconds > 0:
                            kbps = (size - last[1]) * 8 / 1000 / seconds
                            health["bitrate_kbps"] = round(kbps, 1)
                    health |= {"run": run.number, "uptime": round(now - started)}
                    services.ingest_health_record(meeting_id=run.meeting_id, health=health)
                    last_sent, last = now, (progress.out_seconds, size)
        except Exception:
            logger.exception("meeting %s: reading ffmpeg progress failed", run.meeting_id)
        finally:
            connection.close()


def _size(path: str) -> int | None:
    try:
        return Path(path).stat().st_size if path else None
    except OSError:
        return None


def _source_changed(before: Meeting, now: Meeting) -> bool:
    return (before.source, before.pull_url, before.stream_key) != (
        now.source,
        now.pull_url,
        now.stream_key,
    )


def _read_lines(process: subprocess.Popen[str], into: collections.deque[str]) -> None:
    assert process.stderr is not None  # noqa: S101
    for line in process.stderr:
        if line.strip():
            into.append(line.strip())


def _stop_gracefully(process: subprocess.Popen[str], timeout: float = 10) -> None:
    """SIGINT lets ffmpeg write its last segment and playlists; kill it if it will not go."""
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _error_from(stderr: list[str], exit_code: int | None, planned: bool) -> str:
    if planned and exit_code in {0, 255, -signal.SIGINT}:
        return ""
    if exit_code is not None and exit_code < 0:
        name = signal.Signals(-exit_code).name
        return _("ffmpeg stopped unexpectedly (%(signal)s).") % {"signal": name}
    errors = [line for line in stderr if "rror" in line or "nvalid" in line or "failed" in line]
    return (errors[-1] if errors else (stderr[-1] if stderr else ""))[:500] if exit_code else ""


def supervise_all(
    stop: threading.Event, *, restart_delay: float = 1.0, poll: float = 2.0, **options: Any
) -> None:
    """``run_webcast --all``: a :class:`MeetingSupervisor` thread for every meeting whose stream
    is started, started within ``poll`` seconds; each ends when its stream stops."""
    running: dict[int, threading.Thread] = {}
    try:
        while not stop.is_set():
            close_old_connections()
            wanted = Meeting.objects.filter(ingest_enabled=True).values_list("pk", flat=True)
            for pk in wanted:
                if pk not in running or not running[pk].is_alive():
                    supervisor = MeetingSupervisor(
                        pk, restart_delay=restart_delay, exit_when_idle=True, **options
                    )
                    thread = threading.Thread(target=supervisor.run, args=(stop,))
                    thread.start()
                    running[pk] = thread
            stop.wait(poll)
    finally:
        for thread in running.values():
            thread.join(timeout=15)
        connection.close()


# --- the same pipeline on a file -----------------------------------------------------------------


@dataclass
class TranscodeResult:
    renditions: list[dict[str, Any]]
    segments: int
    duration: float
    elapsed: float
    speed: float
    master: str


def transcode_file(
    input_path: str,
    out_dir: Path,
    *,
    ladder: tuple[int, ...] = pipeline.DEFAULT_LADDER,
    encoding: pipeline.Encoding | None = None,
) -> TranscodeResult:
    """Run the live pipeline on a file (as fast as the machine can) into an HLS VOD."""
    info = probe(input_path)
    if not info.has_video or info.height is None:
        raise pipeline.PipelineError(f"{input_path} is not a video ffmpeg can read.")
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = pipeline.build(
        pipeline.Source("file", url=input_path, realtime=False),
        pipeline.Outputs(out_dir, recording=None, live=False),
        ladder=ladder,
        input_height=info.height,
        encoding=encoding or pipeline.Encoding(preset=settings.WEBCAST_X264_PRESET),
        progress=None,
    )
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - a fixed binary and argument list
        [ffmpeg_binary(), *plan.args], capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise pipeline.PipelineError(
            f"ffmpeg could not transcode {input_path}: {result.stderr.strip()[-300:]}"
        )
    renditions = []
    segments = 0
    for name in plan.variant_names:
        playlist = out_dir / name / "index.m3u8"
        parsed = pipeline.parse_media_playlist(playlist.read_text())
        segments += len(parsed)
        rung = next((r for r in plan.rungs if r.name == name), None)
        renditions.append(
            {
                "name": name,
                "height": rung.height if rung else None,
                "video_kbps": rung.video_kbps if rung else None,
                "audio_kbps": pipeline.AUDIO_KBPS,
                "segments": len(parsed),
                "playlist": str(playlist),
            }
        )
    duration = info.duration or 0.0
    return TranscodeResult(
        renditions=renditions,
        segments=segments,
        duration=duration,
        elapsed=round(elapsed, 3),
        speed=round(duration / elapsed, 3) if elapsed else 0.0,
        master=str(plan.master),
    )
