"""Conditional display, as pure functions (no database), so every door in agrees on it.

A condition is ``{"question": "<key of an earlier question>", "values": ["a", "b"]}``: the
question (or section) is shown when that earlier question is itself shown and its answer is one
of ``values`` (for a multiple choice or ranking answer: when any chosen option is). An empty
condition means "always shown". Questions are evaluated in questionnaire order, so a condition on
a later or unknown question is never met, and a chain of conditions cannot loop.

Answers to questions that are not shown are ignored: :func:`prune` drops them, and services only
store what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """What the logic needs to know of a question."""

    key: str
    condition: Mapping[str, Any] = field(default_factory=dict)
    section_condition: Mapping[str, Any] = field(default_factory=dict)


def _chosen(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    if value is True:
        return {"yes"}
    return {str(value)}


def _met(condition: Mapping[str, Any], shown: set[str], answers: Mapping[str, Any]) -> bool:
    if not condition:
        return True
    key = condition.get("question")
    values = condition.get("values") or []
    if key not in shown:
        return False
    return bool(_chosen(answers.get(key)) & {str(v) for v in values})


def visible_keys(items: Sequence[Item], answers: Mapping[str, Any]) -> list[str]:
    """The keys of the questions shown, in order, given ``answers``."""
    shown: set[str] = set()
    order: list[str] = []
    for item in items:
        if _met(item.section_condition, shown, answers) and _met(item.condition, shown, answers):
            shown.add(item.key)
            order.append(item.key)
    return order


def prune(items: Sequence[Item], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Only the answers to questions that are shown (the rest are ignored, never stored)."""
    keys = visible_keys(items, answers)
    return {key: answers[key] for key in keys if key in answers and answers[key] is not None}


def items_for(questions: Iterable[Any]) -> list[Item]:
    """Items from Question rows (with their section loaded), in questionnaire order."""
    return [
        Item(
            key=q.key,
            condition=q.condition or {},
            section_condition=q.section.condition or {},
        )
        for q in questions
    ]
