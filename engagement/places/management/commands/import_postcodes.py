"""``manage.py import_postcodes FILE.csv``: import ONS Postcode Directory rows."""

from typing import IO, Any

from django.core.management.base import CommandParser

from engagement.core.management.imports import FileImportCommand
from engagement.places.services import postcodes_import


class Command(FileImportCommand):
    help = (
        "Import postcodes from an ONS Postcode Directory CSV (columns pcds, lat, long, osward, "
        "optionally doterm). Import the wards first. On any error nothing is stored."
    )
    file_help = "the CSV file"
    text_mode = True

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--skip-unknown-wards",
            action="store_true",
            help="skip (and count) postcodes whose ward is not imported, instead of failing",
        )

    def run_import(self, fileobj: IO[Any], source_name: str, **options: Any) -> Any:
        return postcodes_import(
            source=fileobj,
            skip_unknown_wards=options["skip_unknown_wards"],
            source_name=source_name,
        )
