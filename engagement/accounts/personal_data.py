"""The registry of personal data each module holds, for "download my data" and anonymisation.

Each module registers one section: a function that returns the user's data as JSON-ready
values, and a function that anonymises it (keeping aggregate records: a vote still counts, a
question still happened, but nothing points to the person any more).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Exporter = Callable[[Any], Any]
Anonymiser = Callable[[Any], None]


@dataclass(frozen=True)
class Section:
    name: str
    export: Exporter
    anonymise: Anonymiser | None = None


SECTIONS: dict[str, Section] = {}


def register(name: str, *, export: Exporter, anonymise: Anonymiser | None = None) -> None:
    SECTIONS[name] = Section(name=name, export=export, anonymise=anonymise)
