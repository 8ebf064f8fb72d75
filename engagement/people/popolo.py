"""Popolo JSON import and export."""

from typing import Any


def export_popolo() -> dict[str, Any]:
    raise NotImplementedError
