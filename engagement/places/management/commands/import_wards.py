"""``manage.py import_wards FILE.geojson``: import ONS ward boundaries (see places.services)."""

from typing import IO, Any

from engagement.core.management.imports import FileImportCommand
from engagement.places.services import wards_import


class Command(FileImportCommand):
    help = (
        "Import ward boundaries from an ONS GeoJSON FeatureCollection (WDnnCD/WDnnNM "
        "properties, WGS84). Checks the whole file first; on any error nothing is stored."
    )
    file_help = "the GeoJSON file"

    def run_import(self, fileobj: IO[Any], source_name: str, **options: Any) -> Any:
        return wards_import(source=fileobj, source_name=source_name)
