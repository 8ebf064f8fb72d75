"""``manage.py import_popolo FILE.json``: import councillors, parties and committees."""

from typing import IO, Any

from engagement.core.management.imports import FileImportCommand
from engagement.people.services import popolo_import


class Command(FileImportCommand):
    help = (
        "Import councillors, parties, committees and memberships from Popolo JSON (the shape "
        "export_popolo writes). Import the wards first. On any error nothing is stored."
    )
    file_help = "the Popolo JSON file"

    def run_import(self, fileobj: IO[Any], source_name: str, **options: Any) -> Any:
        return popolo_import(data=fileobj, source_name=source_name)
