"""The ffmpeg pipeline, as pure functions: which renditions, which command, what progress means.

Nothing here starts a process or touches the database, so every choice is tested without ffmpeg
(and, separately, by running the commands for real on short lavfi sources). One ffmpeg process
reads the input once and writes:

* an adaptive HLS ladder (``master.m3u8`` and one media playlist per rendition, plus an
  audio-only rendition): keyframes forced every segment so every rendition cuts at the same
  instants, ``EXT-X-PROGRAM-DATE-TIME`` on every segment, ``append_list`` so a restarted process
  continues the same playlists after an ``EXT-X-DISCONTINUITY``;
* alongside, a safety recording of the untouched input (``-c copy``) to a new MPEG-TS file per
  process run: MPEG-TS needs no trailer, so a killed process leaves a file that plays up to its
  last packet, and a restart never reopens an earlier file. See docs/adr/0010.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg
from django.utils.translation import gettext as _

SEGMENT_SECONDS = 2
AUDIO_KBPS = 96


@dataclass(frozen=True)
class Rung:
    height: int
    video_kbps: int

    @property
    def name(self) -> str:
        return f"{self.height}p"


# Bitrates for talking heads in a council chamber (little motion): about Apple's HLS authoring
# figures scaled down for static scenes.
BITRATES = {1080: 4500, 720: 2500, 576: 1600, 480: 1200, 360: 800, 240: 400, 144: 200}
DEFAULT_LADDER = (720, 480, 240)


class PipelineError(ValueError):
    """A source or option ffmpeg cannot be given; the message says why."""


def parse_ladder(text: str) -> tuple[int, ...]:
    """``"720,480,240"`` -> ``(720, 480, 240)``; raises PipelineError for anything else."""
    try:
        heights = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise PipelineError(
            _("Give the rendition heights as numbers separated by commas, like 720,480,240.")
        ) from exc
    if not heights:
        raise PipelineError(_("Give at least one rendition height, like 720."))
    for height in heights:
        if not 144 <= height <= 2160 or height % 2:
            message = _(
                "%(height)s is not a usable rendition height: use an even number %(range)s."
            )
            raise PipelineError(message % {"height": height, "range": _("from 144 to 2160")})
    return tuple(sorted(set(heights), reverse=True))


def choose_ladder(input_height: int | None, wanted: Iterable[int] = DEFAULT_LADDER) -> list[Rung]:
    """The renditions for an input ``input_height`` pixels high: every wanted height not above
    it (never upscale); an input smaller than every rung gets one rendition at its own height."""
    wanted = sorted(set(wanted), reverse=True)
    if input_height is None:  # not known in advance (an RTMP push): scale down only, in ffmpeg
        heights = wanted
    else:
        heights = [h for h in wanted if h <= input_height] or [input_height - input_height % 2]
    return [Rung(h, _bitrate(h)) for h in heights]


def _bitrate(height: int) -> int:
    for rung_height, kbps in sorted(BITRATES.items()):
        if height <= rung_height:
            return kbps
    return BITRATES[1080] * height // 1080


@dataclass(frozen=True)
class Source:
    """Where the pictures come from. ``kind``: ``rtmp`` (listen for a push), ``pull`` (an RTSP,
    SRT, HLS or RTMP URL), ``test`` (lavfi pattern and tone), ``slate`` (a still image and
    silence, while adjourned) or ``file`` (an upload, or a test input)."""

    kind: str
    url: str = ""
    stream_key: str = ""
    listen_host: str = "0.0.0.0"  # noqa: S104 - an encoder on the network pushes to it
    listen_port: int = 1935
    image: str = ""
    realtime: bool = True
    width: int = 1280
    height: int = 720
    fps: int = 25
    duration: float | None = None

    @property
    def needs_encoding_for_recording(self) -> bool:
        """lavfi and still sources are raw: the safety copy must be encoded, not copied."""
        return self.kind in {"test", "slate"}


PULL_SCHEMES = ("rtsp://", "rtsps://", "srt://", "http://", "https://", "rtmp://", "rtmps://")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def rtmp_url(source: Source) -> str:
    """ffmpeg's listening URL, on the loopback behind the RTMP gate (:mod:`webcast.rtmp_gate`),
    which lets through only a push whose application is the secret key (ffmpeg itself only
    warns about another application); the stream name is not checked."""
    return f"rtmp://{source.listen_host}:{source.listen_port}/{source.stream_key}/live"


def input_nodes(source: Source) -> tuple[Any, Any]:
    """``(video, audio)`` ffmpeg-python streams for ``source``."""
    if source.kind == "rtmp":
        if not _KEY.match(source.stream_key):
            raise PipelineError("The stream key must be 16 to 64 letters, digits, - or _.")
        node = ffmpeg.input(rtmp_url(source), listen=1, f="flv")
        return node.video, node.audio
    if source.kind == "pull":
        if not source.url.lower().startswith(PULL_SCHEMES):
            raise PipelineError(
                "The camera URL must start with rtsp://, srt://, rtmp://, http:// or https://."
            )
        options: dict[str, Any] = {}
        if source.url.lower().startswith(("rtsp://", "rtsps://")):
            options = {"rtsp_transport": "tcp", "timeout": 5_000_000}
        elif source.url.lower().startswith(("http://", "https://")):
            options = {"rw_timeout": 5_000_000, "reconnect": 1}
        node = ffmpeg.input(source.url, **options)
        return node.video, node.audio
    if source.kind == "test":
        size = f"{source.width}x{source.height}"
        extra = {"t": source.duration} if source.duration else {}
        options = {"f": "lavfi", **extra}
        if source.realtime:
            options["re"] = None
        video = ffmpeg.input(f"testsrc2=size={size}:rate={source.fps}", **options)
        audio = ffmpeg.input("sine=frequency=440:sample_rate=48000", **options)
        return video.video, audio.audio
    if source.kind == "slate":
        if not source.image:
            raise PipelineError("The slate needs an image.")
        options = {"loop": 1, "framerate": source.fps}
        if source.realtime:
            options["re"] = None
        if source.duration:
            options["t"] = source.duration
        video = ffmpeg.input(source.image, **options)
        silence = {"f": "lavfi", **({"t": source.duration} if source.duration else {})}
        if source.realtime:
            silence["re"] = None
        audio = ffmpeg.input("anullsrc=channel_layout=stereo:sample_rate=48000", **silence)
        return video.video, audio.audio
    if source.kind == "file":
        node = ffmpeg.input(source.url, **({"re": None} if source.realtime else {}))
        return node.video, node.audio
    raise PipelineError(f"Unknown source kind {source.kind!r}.")


@dataclass(frozen=True)
class Encoding:
    """x264 settings. ``veryfast`` keeps three renditions above 1.5x realtime for 720p25 on two
    cores (see bench/webcast.py); ``zerolatency`` drops the lookahead for a shorter delay."""

    preset: str = "veryfast"
    tune: str = "zerolatency"
    fps: int = 25
    segment_seconds: int = SEGMENT_SECONDS


@dataclass(frozen=True)
class Outputs:
    hls_dir: Path
    recording: Path | None = None
    run_number: int = 1
    list_size: int = 0  # 0: keep every segment (the whole meeting is seekable, then the VOD)
    live: bool = True


@dataclass(frozen=True)
class Plan:
    args: list[str]
    rungs: list[Rung]
    master: Path
    recording: Path | None
    variant_names: list[str] = field(default_factory=list)


def build(
    source: Source,
    outputs: Outputs,
    *,
    ladder: Iterable[int] = DEFAULT_LADDER,
    input_height: int | None = None,
    encoding: Encoding = Encoding(),  # noqa: B008 - frozen
    progress: str | None = "pipe:1",
) -> Plan:
    """The complete ffmpeg argument list (without the binary) for ``source`` into ``outputs``."""
    rungs = choose_ladder(input_height, ladder)
    video, audio = input_nodes(source)
    split = video.filter_multi_output("split", len(rungs))
    streams: list[Any] = []
    options: dict[str, Any] = {}
    stream_map: list[str] = []
    gop = encoding.fps * encoding.segment_seconds
    for index, rung in enumerate(rungs):
        scaled = (
            split[index].filter("fps", encoding.fps).filter("scale", -2, f"min({rung.height},ih)")
        )
        streams += [scaled.filter("format", "yuv420p"), audio]
        options |= {
            f"b:v:{index}": f"{rung.video_kbps}k",
            f"maxrate:v:{index}": f"{rung.video_kbps * 11 // 10}k",
            f"bufsize:v:{index}": f"{rung.video_kbps * 2}k",
        }
        stream_map.append(f"v:{index},a:{index},name:{rung.name}")
    streams.append(audio)
    stream_map.append(f"a:{len(rungs)},name:audio")
    hls_flags = ["independent_segments", "program_date_time"]
    if outputs.live:
        hls_flags += ["append_list", "discont_start", "temp_file"]
    outputs_dir = outputs.hls_dir
    hls = ffmpeg.output(
        *streams,
        str(outputs_dir / "%v" / "index.m3u8"),
        f="hls",
        **{
            "c:v": "libx264",
            "preset": encoding.preset,
            "tune": encoding.tune,
            "profile:v": "main",
            "g": gop,
            "keyint_min": gop,
            "sc_threshold": 0,
            "force_key_frames": f"expr:gte(t,n_forced*{encoding.segment_seconds})",
            "c:a": "aac",
            "b:a": f"{AUDIO_KBPS}k",
            "ac": 2,
            "ar": 48000,
            "hls_time": encoding.segment_seconds,
            "hls_list_size": outputs.list_size,
            "hls_playlist_type": "event" if outputs.live else "vod",
            "hls_flags": "+".join(hls_flags),
            "hls_segment_filename": str(outputs_dir / "%v" / f"r{outputs.run_number:03d}_%05d.ts"),
            "master_pl_name": "master.m3u8",
            "var_stream_map": " ".join(stream_map),
            **options,
        },
    )
    nodes = [hls]
    if outputs.recording is not None:
        if source.needs_encoding_for_recording:
            codecs = {"c:v": "libx264", "preset": "ultrafast", "crf": 20, "c:a": "aac"}
        else:
            codecs = {"c": "copy"}
        # flush_packets: each packet reaches the file as it is muxed (not in 32 kB blocks), so
        # a crash loses at most the packet being written.
        nodes.append(
            ffmpeg.output(
                video, audio, str(outputs.recording), f="mpegts", flush_packets=1, **codecs
            )
        )
    global_args = ["-hide_banner", "-nostdin", "-loglevel", "warning", "-y"]
    if progress:
        global_args += ["-progress", progress, "-stats_period", "1", "-nostats"]
    args = ffmpeg.merge_outputs(*nodes).global_args(*global_args).get_args()
    return Plan(
        args=args,
        rungs=rungs,
        master=outputs_dir / "master.m3u8",
        recording=outputs.recording,
        variant_names=[r.name for r in rungs] + ["audio"],
    )


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    frame: int
    fps: float
    bitrate_kbps: float | None
    speed: float | None
    dropped: int
    duplicated: int
    out_seconds: float
    total_size: int
    ended: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "fps": self.fps,
            "bitrate_kbps": self.bitrate_kbps,
            "speed": self.speed,
            "dropped": self.dropped,
            "duplicated": self.duplicated,
            "out_seconds": self.out_seconds,
        }


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    match = re.match(r"^\s*([0-9.]+)", text)
    return float(match.group(1)) if match else None


def parse_progress(lines: Iterable[str]) -> Iterator[Progress]:
    """Turn ffmpeg's ``-progress`` output (``key=value`` lines, each block ending with
    ``progress=continue`` or ``progress=end``) into one :class:`Progress` per block."""
    block: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        block[key.strip()] = value.strip()
        if key != "progress":
            continue
        out_us = block.get("out_time_us") or block.get("out_time_ms") or "0"
        out_us_value = _number(out_us) or 0.0
        yield Progress(
            frame=int(_number(block.get("frame")) or 0),
            fps=_number(block.get("fps")) or 0.0,
            bitrate_kbps=_number(block.get("bitrate")),
            speed=_number(block.get("speed")),
            dropped=int(_number(block.get("drop_frames")) or 0),
            duplicated=int(_number(block.get("dup_frames")) or 0),
            out_seconds=out_us_value / 1_000_000,
            total_size=int(_number(block.get("total_size")) or 0),
            ended=value.strip() == "end",
        )
        block = {}


# --- reading what ffmpeg made (no ffprobe in the imageio-ffmpeg wheel: ffmpeg -i does it) -----


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")


def parse_media_info(stderr: str) -> MediaInfo:
    """What ``ffmpeg -i FILE`` says about a file (its banner on stderr)."""
    duration = None
    if match := _DURATION.search(stderr):
        h, m, s = match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    width = height = None
    if match := _VIDEO.search(stderr):
        width, height = int(match.group(1)), int(match.group(2))
    return MediaInfo(
        duration=duration,
        width=width,
        height=height,
        has_video=" Video: " in stderr,
        has_audio=" Audio: " in stderr,
    )


def probe_args(path: str) -> list[str]:
    return ["-hide_banner", "-nostdin", "-i", path]


def decode_args(path: str) -> list[str]:
    """Decode a whole file to nothing, reporting errors: a recording 'plays end to end' when
    this exits 0 with nothing on stderr and ``-progress`` ends at its duration."""
    return ["-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]


# --- playlists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float
    program_date_time: str | None
    discontinuity: bool


def parse_media_playlist(text: str) -> list[Segment]:
    """The segments of an HLS media playlist, with their durations and program date times."""
    segments: list[Segment] = []
    duration = 0.0
    pdt: str | None = None
    discontinuity = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = line.split(":", 1)[1]
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line and not line.startswith("#"):
            segments.append(Segment(line, duration, pdt, discontinuity))
            duration, pdt, discontinuity = 0.0, None, False
    return segments


def concat_list(parts: Iterable[Path]) -> str:
    """An ffmpeg concat-demuxer list joining recording parts in order (for the archive)."""
    lines = []
    for part in parts:
        escaped = str(part).replace("'", "'\\''")
        lines.append(f"file '{escaped}'")
    return "\n".join(lines) + "\n"
