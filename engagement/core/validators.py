"""Validators every form, import and API shares, so one rule serves every door in."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_ALLOWED_WHITESPACE = {"\n", "\r", "\t"}


def validate_no_control_characters(value: str) -> None:
    """Reject control, format and unassigned characters (bidi overrides, NUL, zero-width...)."""
    for ch in value:
        if ch in _ALLOWED_WHITESPACE:
            continue
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            raise ValidationError(
                _("Remove the hidden control character (U+%(code)04X) from this text."),
                code="control_character",
                params={"code": ord(ch)},
            )


def validate_single_line(value: str) -> None:
    validate_no_control_characters(value)
    if "\n" in value or "\r" in value or "\t" in value:
        raise ValidationError(_("Enter this on a single line."), code="multiline")


_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def validate_hex_colour(value: str) -> None:
    if not _HEX_COLOUR.match(value):
        raise ValidationError(
            _("Enter a colour as a # followed by six hexadecimal digits, like #1d70b8."),
            code="hex_colour",
        )


_MARKUP = re.compile(r"<\s*[a-zA-Z!/?]|&#?[a-zA-Z0-9]+;")


def validate_no_markup(value: str) -> None:
    """Reject HTML tags and entities in plain-text fields a stranger fills in (petitions,
    questions): pages escape them anyway, but text meant to be read should not carry markup."""
    validate_no_control_characters(value)
    if _MARKUP.search(value):
        raise ValidationError(
            _("Remove the HTML (text between < and >, or codes like &amp;) from this text."),
            code="markup",
        )
