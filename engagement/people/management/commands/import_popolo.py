"""``manage.py import_popolo FILE.json``: import councillors, parties and committees."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.people.services import popolo_import


class Command(BaseCommand):
    help = (
        "Import councillors, parties, committees and memberships from Popolo JSON (the shape "
        "export_popolo writes). Import the wards first. On any error nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the Popolo JSON file")

    def handle(self, *args: object, file: Path, **options: object) -> None:
        try:
            with file.open("rb") as fileobj:
                result = popolo_import(data=fileobj, source_name=file.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {m}" for m in exc.messages)
            ) from None
        for line in result.lines():
            self.stdout.write(line)
