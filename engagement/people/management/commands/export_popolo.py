"""``manage.py export_popolo [--out FILE]``: write councillors, committees and wards as Popolo."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.people.popolo import export_popolo


class Command(BaseCommand):
    help = "Write councillors, parties, committees, memberships and wards as Popolo JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, default=None, help="write to this file instead of standard output"
        )

    def handle(self, *args: object, out: Path | None, **options: object) -> None:
        data = export_popolo()
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if out is None:
            self.stdout.write(text, ending="")
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc.strerror or exc}") from None
        self.stdout.write(
            f"Wrote {out}: {len(data['persons'])} persons, "
            f"{len(data['organizations'])} organizations, "
            f"{len(data['memberships'])} memberships, {len(data['areas'])} areas."
        )
