"""Template helpers for consultation questions: one inclusion tag renders any question type with
the GOV.UK pattern for it, showing back what was typed (or stored) and its error."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "postcode" in value:
        return value["postcode"]
    if isinstance(value, str | int | float):
        return str(value)
    return ""


@register.inclusion_tag("consultations/includes/_question.html")
def question_field(
    item: dict, values: dict, errors: dict, heading: bool = False, disabled: bool = False
) -> dict[str, Any]:
    """``item`` is ``{"q": Question, "hint": str}``; ``values`` holds stored answers or what was
    just posted (raw), by question key."""
    q = item["q"]
    value = values.get(q.key)
    chosen: set[str] = set()
    if isinstance(value, list):
        chosen = {str(v) for v in value}
    elif isinstance(value, str):
        chosen = {value}
    elif value is True:
        chosen = {"yes"}
    date = {"day": "", "month": "", "year": ""}
    if isinstance(value, dict) and {"day", "month", "year"} <= value.keys():
        date = value
    elif isinstance(value, str) and len(value) == 10 and value[4] == "-":
        year, month, day = value.split("-")
        date = {"day": day.lstrip("0"), "month": month.lstrip("0"), "year": year}
    positions: dict[str, str] = {}
    if isinstance(value, list) and q.kind == "ranking":
        positions = {v: str(n) for n, v in enumerate(value, 1)}
    elif isinstance(value, dict) and q.kind == "ranking":
        positions = {k: str(v) for k, v in value.items()}
    matrix = value if isinstance(value, dict) and q.kind == "matrix" else {}
    return {
        "q": q,
        "hint": item.get("hint", ""),
        "name": f"q-{q.key}",
        "id": f"q-{q.key}",
        "text": _as_text(value),
        "chosen": chosen,
        "date": date,
        "options": [
            {"value": v, "label": label, "checked": v in chosen, "rank": positions.get(v, "")}
            for v, label in q.choices
        ],
        "rank_numbers": [str(n) for n in range(1, len(q.options) + 1)],
        "rows": [
            {"value": r, "label": label, "selected": matrix.get(r, "")}
            for r, label in q.row_choices
        ],
        "error": errors.get(q.key, ""),
        "heading": heading,
        "disabled": disabled,
        "file_name": value.get("name", "") if isinstance(value, dict) and "path" in value else "",
    }
