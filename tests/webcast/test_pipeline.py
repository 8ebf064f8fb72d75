"""The ffmpeg pipeline: the command as data (no ffmpeg), then for real on short lavfi sources."""

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from webcast import pipeline
from webcast.pipeline import Encoding, Outputs, PipelineError, Source

from .factories import ffmpeg_bin

# --- pure: ladders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "expected"),
    [
        (1080, [720, 480, 240]),
        (720, [720, 480, 240]),
        (576, [480, 240]),
        (480, [480, 240]),
        (360, [240]),
        (200, [200]),
        (181, [180]),
        (None, [720, 480, 240]),
    ],
)
def test_ladder_follows_input_height_and_never_upscales(height, expected):
    assert [r.height for r in pipeline.choose_ladder(height)] == expected


def test_ladder_bitrates_fall_with_height():
    rungs = pipeline.choose_ladder(1080, (1080, 720, 480, 240))
    assert [(r.name, r.video_kbps) for r in rungs] == [
        ("1080p", 4500),
        ("720p", 2500),
        ("480p", 1200),
        ("240p", 400),
    ]


def test_parse_ladder():
    assert pipeline.parse_ladder("240, 720,480,720") == (720, 480, 240)
    with pytest.raises(PipelineError, match="numbers separated by commas"):
        pipeline.parse_ladder("720p,480")
    with pytest.raises(PipelineError, match="at least one"):
        pipeline.parse_ladder(" , ")
    with pytest.raises(PipelineError, match="721 is not a usable rendition height"):
        pipeline.parse_ladder("721")
    with pytest.raises(PipelineError, match="4320 is not a usable"):
        pipeline.parse_ladder("4320")


# --- pure: commands ------------------------------------------------------------------------------


def _opt(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_command_for_a_push_listens_on_the_secret_application_and_copies_the_recording(tmp_path):
    key = "k" * 32
    plan = pipeline.build(
        Source("rtmp", stream_key=key, listen_host="127.0.0.1", listen_port=19999),
        Outputs(tmp_path / "hls", recording=tmp_path / "rec" / "part-0003.ts", run_number=3),
    )
    args = plan.args
    assert args[: args.index("-i") + 2] == [
        "-f",
        "flv",
        "-listen",
        "1",
        "-i",
        f"rtmp://127.0.0.1:19999/{key}/live",
    ]
    assert _opt(args, "-var_stream_map") == (
        "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:240p a:3,name:audio"
    )
    assert _opt(args, "-hls_time") == "2"
    assert _opt(args, "-g") == "50"
    assert _opt(args, "-keyint_min") == "50"
    assert _opt(args, "-sc_threshold") == "0"
    assert _opt(args, "-force_key_frames") == "expr:gte(t,n_forced*2)"
    assert _opt(args, "-hls_flags") == (
        "independent_segments+program_date_time+append_list+discont_start+temp_file"
    )
    assert _opt(args, "-hls_playlist_type") == "event"
    assert _opt(args, "-hls_segment_filename") == str(tmp_path / "hls" / "%v" / "r003_%05d.ts")
    assert _opt(args, "-master_pl_name") == "master.m3u8"
    # Unknown push resolution: scale down only.
    assert "scale=-2:min(720\\,ih)" in _opt(args, "-filter_complex")
    # The safety recording: the untouched input, MPEG-TS, its own file.
    tail = args[args.index(str(tmp_path / "hls" / "%v" / "index.m3u8")) + 1 :]
    assert tail[: tail.index(str(tmp_path / "rec" / "part-0003.ts")) + 1] == [
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-f",
        "mpegts",
        "-c",
        "copy",
        "-flush_packets",
        "1",
        str(tmp_path / "rec" / "part-0003.ts"),
    ]
    assert args[-5:] == ["-progress", "pipe:1", "-stats_period", "1", "-nostats"]
    assert plan.variant_names == ["720p", "480p", "240p", "audio"]


def test_test_source_recording_is_encoded_and_the_preset_is_applied(tmp_path):
    plan = pipeline.build(
        Source("test", width=640, height=360, duration=3, realtime=False),
        Outputs(tmp_path / "hls", recording=tmp_path / "r.ts"),
        input_height=360,
        encoding=Encoding(preset="superfast", fps=30, segment_seconds=4),
    )
    assert [r.height for r in plan.rungs] == [240]
    assert _opt(plan.args, "-preset") == "superfast"
    assert _opt(plan.args, "-g") == "120"
    assert _opt(plan.args, "-hls_time") == "4"
    assert "testsrc2=size=640x360:rate=25" in plan.args
    assert plan.args[plan.args.index(str(tmp_path / "r.ts")) - 1] == "ultrafast"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (Source("rtmp", stream_key="short"), "stream key must be 16 to 64"),
        (Source("rtmp", stream_key="a/b" * 8), "stream key must be 16 to 64"),
        (Source("pull", url="file:///etc/passwd"), "must start with rtsp://"),
        (Source("pull", url="-i /etc/passwd"), "must start with rtsp://"),
        (Source("slate"), "slate needs an image"),
        (Source("carrier-pigeon"), "Unknown source kind"),
    ],
)
def test_bad_sources_are_refused(tmp_path, source, message):
    with pytest.raises(PipelineError, match=message):
        pipeline.build(source, Outputs(tmp_path))


def test_pull_sources_get_timeouts_so_a_dead_camera_ends_the_run(tmp_path):
    rtsp = pipeline.build(Source("pull", url="rtsp://cam.local/stream"), Outputs(tmp_path)).args
    assert rtsp[:6] == ["-rtsp_transport", "tcp", "-timeout", "5000000", "-i", "rtsp://cam.local/stream"]  # fmt: skip  # noqa: E501
    hls = pipeline.build(Source("pull", url="https://cdn.example/a.m3u8"), Outputs(tmp_path)).args
    assert _opt(hls, "-rw_timeout") == "5000000"


# --- pure: reading ffmpeg ------------------------------------------------------------------------

PROGRESS = """frame=50
fps=24.93
stream_0_0_q=23.0
bitrate=N/A
total_size=262144
out_time_us=2000000
out_time=00:00:02.000000
dup_frames=1
drop_frames=0
speed=0.998x
progress=continue
frame=75
fps=25.00
bitrate= 812.3kbits/s
total_size=393216
out_time_us=3000000
dup_frames=1
drop_frames=4
speed=1.01x
progress=end
"""


def test_parse_progress():
    blocks = list(pipeline.parse_progress(PROGRESS.splitlines()))
    assert blocks == [
        pipeline.Progress(50, 24.93, None, 0.998, 0, 1, 2.0, 262144, False),
        pipeline.Progress(75, 25.0, 812.3, 1.01, 4, 1, 3.0, 393216, True),
    ]
    assert blocks[1].as_dict() == {
        "frame": 75,
        "fps": 25.0,
        "bitrate_kbps": 812.3,
        "speed": 1.01,
        "dropped": 4,
        "duplicated": 1,
        "out_seconds": 3.0,
    }


def test_parse_media_playlist():
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000000,\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-27T09:09:10.754+0000\nr001_00000.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:1.5,\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-27T09:09:17.318+0000\nr002_00001.ts\n#EXT-X-ENDLIST\n"
    )
    assert pipeline.parse_media_playlist(text) == [
        pipeline.Segment("r001_00000.ts", 2.0, "2026-11-27T09:09:10.754+0000", True),
        pipeline.Segment("r002_00001.ts", 1.5, "2026-11-27T09:09:17.318+0000", True),
    ]


def test_parse_media_info():
    banner = (
        "Input #0, mpegts, from 'x.ts':\n  Duration: 00:01:02.48, start: 1.4, bitrate: 900 kb/s\n"
        "  Stream #0:0[0x100]: Video: h264 (High), yuv420p(progressive), 1280x720, 25 fps\n"
        "  Stream #0:1[0x101](und): Audio: aac (LC), 48000 Hz, stereo\n"
    )
    assert pipeline.parse_media_info(banner) == pipeline.MediaInfo(62.48, 1280, 720, True, True)
    assert pipeline.parse_media_info("x.txt: Invalid data found") == pipeline.MediaInfo(
        None, None, None, False, False
    )


def test_concat_list_quotes_paths():
    assert pipeline.concat_list([Path("/m/part-0001.ts"), Path("/m/it's.ts")]) == (
        "file '/m/part-0001.ts'\nfile '/m/it'\\''s.ts'\n"
    )


# --- real ffmpeg ---------------------------------------------------------------------------------


def run_ffmpeg(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_bin(), *args], capture_output=True, text=True, check=False)  # noqa: S603


def media_info(path: Path) -> pipeline.MediaInfo:
    return pipeline.parse_media_info(run_ffmpeg(pipeline.probe_args(str(path))).stderr)


def plays_end_to_end(path: Path) -> bool:
    result = run_ffmpeg(pipeline.decode_args(str(path)))
    return result.returncode == 0 and result.stderr.strip() == ""


def test_real_ladder_from_a_720p_test_source(tmp_path):
    plan = pipeline.build(
        Source("test", width=1280, height=720, duration=6.2, realtime=False),
        Outputs(tmp_path / "hls", recording=tmp_path / "rec.ts"),
        input_height=720,
        encoding=Encoding(preset="ultrafast"),
    )
    result = run_ffmpeg(plan.args)
    assert result.returncode == 0, result.stderr
    progress = list(pipeline.parse_progress(result.stdout.splitlines()))
    assert progress[-1].ended
    assert progress[-1].frame == 155

    master = (tmp_path / "hls" / "master.m3u8").read_text()
    assert [line for line in master.splitlines() if line and not line.startswith("#")] == [
        "720p/index.m3u8",
        "480p/index.m3u8",
        "240p/index.m3u8",
        "audio/index.m3u8",
    ]
    assert "RESOLUTION=1280x720" in master
    assert "RESOLUTION=854x480" in master
    assert "RESOLUTION=426x240" in master

    for name, size in (("720p", (1280, 720)), ("480p", (854, 480)), ("240p", (426, 240))):
        segments = pipeline.parse_media_playlist(
            (tmp_path / "hls" / name / "index.m3u8").read_text()
        )
        # 2 s segments cut at the same keyframes in every rendition: 2 + 2 + 2 + 0.2.
        assert [round(s.duration, 2) for s in segments] == [2.0, 2.0, 2.0, 0.2]
        times = [datetime.fromisoformat(s.program_date_time) for s in segments]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert gaps == pytest.approx([2.0, 2.0, 2.0], abs=0.01)
        first = tmp_path / "hls" / name / segments[0].uri
        info = media_info(first)
        assert (info.width, info.height) == size
        assert info.has_audio
    audio = pipeline.parse_media_playlist((tmp_path / "hls" / "audio" / "index.m3u8").read_text())
    assert sum(s.duration for s in audio) == pytest.approx(6.2, abs=0.1)
    assert not media_info(tmp_path / "hls" / "audio" / audio[0].uri).has_video

    recording = media_info(tmp_path / "rec.ts")
    assert (recording.width, recording.height) == (1280, 720)
    assert recording.duration == pytest.approx(6.2, abs=0.15)
    assert plays_end_to_end(tmp_path / "rec.ts")


def test_real_small_input_gets_one_rendition_at_its_own_size(tmp_path):
    plan = pipeline.build(
        Source("test", width=320, height=180, duration=2, realtime=False),
        Outputs(tmp_path, recording=None, live=False),
        input_height=180,
        encoding=Encoding(preset="ultrafast"),
        progress=None,
    )
    assert run_ffmpeg(plan.args).returncode == 0
    master = (tmp_path / "master.m3u8").read_text()
    assert "RESOLUTION=320x180" in master
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in (tmp_path / "180p" / "index.m3u8").read_text()


def test_transcode_command_json(tmp_path):
    import json

    from django.core.management import call_command

    source = tmp_path / "in.mp4"
    made = run_ffmpeg(
        ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=25", "-f", "lavfi",
         "-i", "sine", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         "-shortest", str(source)]
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    from io import StringIO

    out = StringIO()
    call_command(
        "webcast_transcode", str(source), "--out", str(tmp_path / "o"), "--json", stdout=out
    )
    data = json.loads(out.getvalue())
    assert [r["name"] for r in data["renditions"]] == ["480p", "240p", "audio"]
    assert [r["segments"] for r in data["renditions"][:2]] == [2, 2]
    assert data["segments"] == sum(r["segments"] for r in data["renditions"])
    assert data["duration"] == pytest.approx(4.0, abs=0.1)
    assert data["speed"] > 0
    assert Path(data["master"]).is_file()


def test_transcode_command_refuses_what_is_not_video(tmp_path):
    from django.core.management import CommandError, call_command

    text = tmp_path / "notes.mp4"
    text.write_text("minutes of the last meeting")
    with pytest.raises(CommandError, match="is not a video ffmpeg can read"):
        call_command("webcast_transcode", str(text), "--out", str(tmp_path / "o"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("webcast_transcode", str(tmp_path / "nope.mp4"), "--out", str(tmp_path))
    with pytest.raises(CommandError, match="numbers separated by commas"):
        call_command("webcast_transcode", str(text), "--out", str(tmp_path), "--ladder", "hd")
    assert not (tmp_path / "o").exists()
