"""Benchmark ``webcast``: the ffmpeg pipeline's transcode speed, live latency, CPU and memory.

* Transcode: a 60 s 720p25 input (testsrc2 and a tone, made first, untimed) through the very
  pipeline of a live stream (``webcast.supervisor.transcode_file``: three renditions 720/480/240
  plus audio-only, 2 s segments, keyframes aligned) with the x264 preset of the settings
  (``WEBCAST_X264_PRESET``, default ``veryfast``, ``tune=zerolatency``). The realtime factor is
  input seconds per wall second; target >= 1.5.
* Live latency: the live pipeline on a real-time 720p25 source (``-re``: frame t enters at
  start + t), the top rendition's playlist polled every 20 ms; for each new segment, the wall
  time it appeared minus the time its first frame entered ffmpeg (counted from the moment the
  process was started, so start-up counts against us). Target <= segment duration + 1 s (3 s).
  Also reported: how far the segments' ``EXT-X-PROGRAM-DATE-TIME`` sits after that entry time
  (the player's agenda sync is off by about this much).
  Caveat: a 2 s segment cannot be listed sooner than 2 s after its first frame, yet the figure
  comes out near 1.6 s: ffmpeg's ``-re`` pacing of a lavfi source runs about 0.4–0.5 s ahead of
  the clock, so add that much for a camera that delivers frames strictly in real time.
* CPU and memory: user+system CPU seconds and the peak resident memory of the ffmpeg process of
  each phase (from ``getrusage`` of the children).

``--quick``: a 15 s input and 10 s of live.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engagement.settings.local")
    import django

    django.setup()


def _children() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run(quick: bool = False) -> dict[str, Any]:
    _django()
    from django.conf import settings

    from webcast import pipeline
    from webcast.supervisor import ffmpeg_binary, transcode_file

    seconds = 15 if quick else 60
    live_seconds = 10 if quick else 30
    binary = ffmpeg_binary()
    preset = settings.WEBCAST_X264_PRESET
    with tempfile.TemporaryDirectory(prefix="moot-bench-webcast-") as tmp:
        work = Path(tmp)
        source = work / "input.mp4"
        print(f"making a {seconds} s 720p25 input", file=sys.stderr)
        subprocess.run(  # noqa: S603
            [binary, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
             "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", "-shortest",
             str(source)],
            check=True,
        )  # fmt: skip

        print("transcoding", file=sys.stderr)
        cpu0, _ = _children()
        result = transcode_file(str(source), work / "vod", ladder=(720, 480, 240))
        cpu1, rss1 = _children()

        print(f"live for {live_seconds} s", file=sys.stderr)
        plan = pipeline.build(
            pipeline.Source("test", width=1280, height=720, duration=live_seconds),
            pipeline.Outputs(work / "live", recording=work / "rec.ts"),
            ladder=(720, 480, 240),
            input_height=720,
            encoding=pipeline.Encoding(preset=preset),
            progress=None,
        )
        (work / "live").mkdir()
        playlist = work / "live" / "720p" / "index.m3u8"
        started = time.monotonic()
        started_wall = time.time()
        # No initial burst (ffmpeg reads the first 0.5 s at once by default), so frame t enters
        # at start + t exactly.
        args: list[str] = []
        for arg in plan.args:
            args += [arg, "-readrate_initial_burst", "0"] if arg == "-re" else [arg]
        process = subprocess.Popen([binary, *args])  # noqa: S603
        seen: set[str] = set()
        delays: list[float] = []
        skew: list[float] = []
        while process.poll() is None or time.monotonic() - started < 1:
            if playlist.exists():
                now = time.time()
                position = 0.0
                for segment in pipeline.parse_media_playlist(playlist.read_text()):
                    if segment.uri not in seen:
                        seen.add(segment.uri)
                        # -re feeds frame t at (start + t): this segment's first frame entered
                        # at started_wall + position at the latest (process start-up included).
                        delays.append(round(now - (started_wall + position), 3))
                        if segment.program_date_time:
                            pdt = datetime.fromisoformat(segment.program_date_time).timestamp()
                            skew.append(round(pdt - (started_wall + position), 3))
                    position += segment.duration
            time.sleep(0.02)
        live_wall = time.monotonic() - started
        cpu2, rss2 = _children()
    # The last segment is cut short when the source ends: leave it out.
    steady = delays[:-1] if len(delays) > 1 else delays
    worst = max(steady) if steady else None
    figures = {
        "quick": quick,
        "preset": preset,
        "tune": "zerolatency",
        "input_seconds": seconds,
        "renditions": [r["name"] for r in result.renditions],
        "segments": result.segments,
        "transcode_wall_s": result.elapsed,
        "realtime_factor": result.speed,
        "transcode_cpu_s": round(cpu1 - cpu0, 2),
        "transcode_peak_rss_mb": round(rss1 / 1024, 1),
        "live_seconds": live_seconds,
        "live_segments": len(steady),
        "live_latency_s_median": sorted(steady)[len(steady) // 2] if steady else None,
        "live_latency_s_max": worst,
        "program_date_time_after_entry_s": sorted(skew)[len(skew) // 2] if skew else None,
        "live_cpu_percent": round(100 * (cpu2 - cpu1) / live_wall, 1),
        "live_peak_rss_mb": round(rss2 / 1024, 1),
        "cores": os.cpu_count(),
    }
    figures["ok"] = bool(
        result.speed >= 1.5 and worst is not None and worst <= pipeline.SEGMENT_SECONDS + 1
    )
    return figures


def table(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"webcast ({'quick' if result['quick'] else 'full'}), x264 {result['preset']} "
            f"+ {result['tune']}, {result['cores']} cores",
            f"transcode {result['input_seconds']} s 720p25 -> {', '.join(result['renditions'])}: "
            f"{result['transcode_wall_s']} s, {result['realtime_factor']}x realtime "
            f"(target >= 1.5), CPU {result['transcode_cpu_s']} s, "
            f"peak {result['transcode_peak_rss_mb']} MB",
            f"live latency (segment in playlist after its first frame entered): median "
            f"{result['live_latency_s_median']} s, max {result['live_latency_s_max']} s over "
            f"{result['live_segments']} segments (target <= 3 s)",
            f"live CPU {result['live_cpu_percent']}% of one core, "
            f"peak {result['live_peak_rss_mb']} MB (ladder + safety recording)",
        ]
    )
