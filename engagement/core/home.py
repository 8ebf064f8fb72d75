"""What the home page lists, contributed by each module.

A module registers a section in its ``AppConfig.ready()``: a key, a heading, the template of its
list and a selector returning the items. Sections that no module provides yet still show their
heading with a plain empty state, so residents always see the same page structure.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass
class Section:
    key: str
    heading: Promise | str
    empty: Promise | str
    template: str = ""
    items: Callable[[Any], list[Any]] | None = field(default=None, repr=False)


SECTIONS: dict[str, Section] = {
    "meetings": Section(
        "meetings",
        _("Live and upcoming meetings"),
        _("There are no live or upcoming council meetings at the moment."),
    ),
    "budgets": Section(
        "budgets",
        _("Participatory budgets"),
        _("There are no budget rounds open for voting at the moment."),
    ),
    "consultations": Section(
        "consultations",
        _("Consultations"),
        _("There are no open consultations at the moment."),
    ),
    "petitions": Section(
        "petitions",
        _("Petitions"),
        _("There are no open petitions at the moment."),
    ),
}


def provide(key: str, *, template: str, items: Callable[[Any], list[Any]]) -> None:
    """Called by a module to fill one of the home page sections."""
    section = SECTIONS[key]
    section.template = template
    section.items = items


def home_sections(request: Any) -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "heading": s.heading,
            "empty": s.empty,
            "template": s.template,
            "items": s.items(request) if s.items else [],
        }
        for s in SECTIONS.values()
    ]
