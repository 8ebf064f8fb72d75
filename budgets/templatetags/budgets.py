from typing import Any

from django import template
from django.utils.formats import number_format

from budgets.models import Voter

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def share(part: int, whole: int) -> str:
    """``part / whole`` as a number between 0 and 1 for a CSS bar."""
    return f"{part / whole:.4f}" if whole else "0"


@register.filter
def percent(value: float) -> str:
    return number_format(value * 100, decimal_pos=0) + "%"


@register.filter
def channel_label(value: str) -> str:
    return str(Voter.Channel(value).label) if value in Voter.Channel.values else value
