"""``manage.py import_wards FILE.geojson``: import ONS ward boundaries (see places.services)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.places.services import wards_import


class Command(BaseCommand):
    help = (
        "Import ward boundaries from an ONS GeoJSON FeatureCollection (WDnnCD/WDnnNM "
        "properties, WGS84). Checks the whole file first; on any error nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the GeoJSON file")

    def handle(self, *args: object, file: Path, **options: object) -> None:
        try:
            with file.open("rb") as fileobj:
                result = wards_import(source=fileobj, source_name=file.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {m}" for m in exc.messages)
            ) from None
        for line in result.lines():
            self.stdout.write(line)
