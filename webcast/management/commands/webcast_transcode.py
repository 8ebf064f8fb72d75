"""``manage.py webcast_transcode INPUT --out DIR [--ladder 720,480,240] [--json]``: run the live
pipeline on a file (recorded meetings, tests, the benchmark) and report what it made."""

import dataclasses
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webcast import pipeline
from webcast.supervisor import transcode_file


class Command(BaseCommand):
    help = "Transcode a file into the webcast's HLS ladder with the live pipeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="a video file")
        parser.add_argument("--out", required=True, help="directory for the HLS output")
        parser.add_argument("--ladder", default="720,480,240", help="rendition heights")
        parser.add_argument("--preset", default=None, help="x264 preset (default: the setting)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["input"])
        if not source.is_file():
            raise CommandError(f"{source} does not exist or is not a file.")
        try:
            ladder = pipeline.parse_ladder(options["ladder"])
            encoding = pipeline.Encoding(preset=options["preset"]) if options["preset"] else None
            result = transcode_file(
                str(source), Path(options["out"]), ladder=ladder, encoding=encoding
            )
        except pipeline.PipelineError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(dataclasses.asdict(result)))
            return
        for rendition in result.renditions:
            self.stdout.write(f"{rendition['name']:>6}  {rendition['segments']} segments")
        self.stdout.write(
            f"{result.segments} segments; {result.duration:.1f} s of video in "
            f"{result.elapsed:.1f} s ({result.speed:.2f}x realtime); {result.master}"
        )
