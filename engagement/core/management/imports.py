"""The shape every import command shares: read a file, call a service, report or refuse."""

from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class FileImportCommand(BaseCommand):
    """Subclasses set ``file_help`` and implement :meth:`run_import`; binary by default."""

    file_help = "the file to import"
    text_mode = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help=self.file_help)

    def run_import(self, fileobj: IO[Any], source_name: str, **options: Any) -> Any:
        raise NotImplementedError

    def handle(self, *args: object, file: Path, **options: Any) -> None:
        try:
            if self.text_mode:
                fileobj = file.open("r", encoding="utf-8-sig", newline="")
            else:
                fileobj = file.open("rb")
            with fileobj:
                result = self.run_import(fileobj, file.name, **options)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from None
        except ValidationError as exc:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {m}" for m in exc.messages)
            ) from None
        for line in result.lines():
            self.stdout.write(line)
