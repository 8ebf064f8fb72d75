"""``manage.py run_webcast MEETING`` or ``manage.py run_webcast --all``: the webcast supervisor.

Run it under the process manager (systemd, the demo launcher): it keeps ffmpeg running for a
meeting whose stream is started in the control room, restarts it if it dies, and stops it when
the stream is stopped or the meeting ends. ``--all`` supervises every meeting whose stream is
started, each in its own thread. SIGTERM and SIGINT stop ffmpeg gracefully, then exit.
"""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webcast import services
from webcast.models import Meeting
from webcast.supervisor import MeetingSupervisor, supervise_all


class Command(BaseCommand):
    help = "Supervise the ffmpeg of one meeting, or of every meeting whose stream is started."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("meeting", nargs="?", type=int, help="a meeting id")
        parser.add_argument("--all", action="store_true", help="every started meeting")
        parser.add_argument("--restart-delay", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["meeting"]) == bool(options["all"]):
            raise CommandError("Give a meeting id or --all (not both).")
        if options["meeting"] and not Meeting.objects.filter(pk=options["meeting"]).exists():
            raise CommandError(f"There is no meeting {options['meeting']}.")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        delay = options["restart_delay"]
        # Nothing of ours runs yet: runs still open were left by a supervisor that was killed.
        services.ingest_runs_recover(meeting_id=options["meeting"] or None)
        if options["meeting"]:
            MeetingSupervisor(options["meeting"], restart_delay=delay).run(stop)
            return
        supervise_all(stop, restart_delay=delay)
