"""The archive of a meeting, made once its stream has stopped after it ended.

The live HLS ladder already is the VOD (ffmpeg closed every playlist with ``EXT-X-ENDLIST``, and
each segment keeps its program date time, so ``?t=`` links and the agenda work the same way as
live). To it the archive adds a downloadable MP4 (the top rendition, remuxed, no re-encode), the
safety-recording parts joined into one file for the council's records, WebVTT chapters from the
agenda times, a poster and a thumbnail per item.

Times on the wall clock become positions in the recording through the playlist's program date
times (:func:`position_at`), so a gap or an adjournment never shifts the chapters.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import pipeline


def _pdt(segment: pipeline.Segment) -> datetime | None:
    if not segment.program_date_time:
        return None
    return datetime.fromisoformat(segment.program_date_time)


def position_at(segments: Sequence[pipeline.Segment], at: datetime) -> float | None:
    """Seconds into the recording at wall-clock time ``at``: inside a segment, its offset; in a
    gap between segments, the start of the next one; after the end, None."""
    position = 0.0
    for segment in segments:
        start = _pdt(segment)
        if start is None:
            position += segment.duration
            continue
        if at < start:
            return round(position, 3)
        if at < start + timedelta(seconds=segment.duration):
            return round(position + (at - start).total_seconds(), 3)
        position += segment.duration
    return None


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str
    item_id: int


def chapters(
    marks: Sequence[tuple[int, str, datetime]],
    segments: Sequence[pipeline.Segment],
) -> list[Chapter]:
    """``marks`` are ``(item id, title, time)`` in order; each chapter runs to the next."""
    total = round(sum(s.duration for s in segments), 3)
    starts = []
    for item_id, title, at in marks:
        position = position_at(segments, at)
        if position is None:
            continue
        if starts and position <= starts[-1][0]:
            starts[-1] = (position, item_id, title)  # two marks in one instant: the later wins
            continue
        starts.append((position, item_id, title))
    return [
        Chapter(start, starts[i + 1][0] if i + 1 < len(starts) else total, title, item_id)
        for i, (start, item_id, title) in enumerate(starts)
    ]


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def chapters_vtt(chapter_list: Sequence[Chapter]) -> str:
    lines = ["WEBVTT", ""]
    for index, chapter in enumerate(chapter_list, start=1):
        title = chapter.title.replace("-->", "->").replace("\n", " ")
        lines += [
            f"chapter-{index}",
            f"{_timestamp(chapter.start)} --> {_timestamp(chapter.end)}",
            title,
            "",
        ]
    return "\n".join(lines)


# --- captions ----------------------------------------------------------------------------------


class CaptionError(ValueError):
    pass


def captions_to_vtt(text: str) -> str:
    """WebVTT as it is, or SubRip (SRT) converted; anything else is refused with the reason."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if text.startswith("WEBVTT"):
        if "-->" not in text:
            raise CaptionError("The WebVTT file has no captions in it.")
        return text if text.endswith("\n") else text + "\n"
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    if not blocks:
        raise CaptionError("The file is empty.")
    out = ["WEBVTT", ""]
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        if lines and lines[0].strip().isdigit():
            lines = lines[1:]
        if not lines or "-->" not in lines[0]:
            raise CaptionError(f"Caption {number} has no start and end time (00:00:01,000 --> …).")
        start, _, end = lines[0].partition("-->")
        try:
            times = [_srt_time(start), _srt_time(end.split()[0] if end.split() else "")]
        except ValueError as exc:
            raise CaptionError(f"Caption {number} has a time that cannot be read.") from exc
        out += [f"{times[0]} --> {times[1]}", *lines[1:], ""]
    return "\n".join(out)


def _srt_time(text: str) -> str:
    text = text.strip().replace(",", ".")
    parts = text.split(":")
    if len(parts) != 3 or not all(p.replace(".", "").isdigit() for p in parts):
        raise ValueError(text)
    hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    if minutes > 59 or seconds >= 60:
        raise ValueError(text)
    return _timestamp(hours * 3600 + minutes * 60 + seconds)


# --- the ffmpeg work ---------------------------------------------------------------------------


def top_variant(master: Path) -> Path:
    return master.parent / top_variant_uri(master.read_text())


def top_variant_uri(master_text: str) -> str:
    """The first (largest) rendition a master playlist lists."""
    for line in master_text.splitlines():
        if line and not line.startswith("#"):
            return line
    raise pipeline.PipelineError("The master playlist lists no renditions.")


def mp4_args(playlist: Path, out: Path) -> list[str]:
    return [
        "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(playlist),
        "-c", "copy", "-bsf:a", "aac_adtstoasc", "-movflags", "+faststart",
        "-progress", "pipe:1", "-nostats", str(out),
    ]  # fmt: skip


def join_args(concat_list: Path, out: Path) -> list[str]:
    return [
        "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
        "-i", str(concat_list), "-map", "0", "-c", "copy", str(out),
    ]  # fmt: skip


def still_args(video: Path | str, at: float, out: Path, width: int) -> list[str]:
    return [
        "-hide_banner", "-nostdin", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video),
        "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4", str(out),
    ]  # fmt: skip


def run_with_progress(
    binary: str, args: list[str], total: float, report: Callable[[float], None]
) -> None:
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and argument list
        [binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None  # noqa: S101
    for progress in pipeline.parse_progress(process.stdout):
        if total:
            report(min(progress.out_seconds / total, 1.0))
    _, stderr = process.communicate()
    if process.returncode:
        raise pipeline.PipelineError(f"ffmpeg failed: {stderr.strip()[-300:]}")


def run(binary: str, args: list[str]) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed binary and argument list
        [binary, *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise pipeline.PipelineError(f"ffmpeg failed: {result.stderr.strip()[-300:]}")
