"""``manage.py import_postcodes FILE.csv``: import ONS Postcode Directory rows."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.places.services import postcodes_import


class Command(BaseCommand):
    help = (
        "Import postcodes from an ONS Postcode Directory CSV (columns pcds, lat, long, osward, "
        "optionally doterm). Import the wards first. On any error nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument(
            "--skip-unknown-wards",
            action="store_true",
            help="skip (and count) postcodes whose ward is not imported, instead of failing",
        )

    def handle(
        self, *args: object, file: Path, skip_unknown_wards: bool, **options: object
    ) -> None:
        try:
            with file.open("r", encoding="utf-8-sig", newline="") as fileobj:
                result = postcodes_import(
                    source=fileobj,
                    skip_unknown_wards=skip_unknown_wards,
                    source_name=file.name,
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {m}" for m in exc.messages)
            ) from None
        for line in result.lines():
            self.stdout.write(line)
