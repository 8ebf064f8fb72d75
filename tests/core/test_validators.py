import pytest
from django.core.exceptions import ValidationError

from engagement.core.validators import (
    validate_hex_colour,
    validate_no_control_characters,
    validate_single_line,
)


@pytest.mark.parametrize("text", ["Llanfair ward", "Ysgol Gymraeg – Ffordd", "tab\tand\nnewline"])
def test_ordinary_text_passes(text):
    validate_no_control_characters(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nul\x00", "U+0000"),
        ("bidi\u202eevil", "U+202E"),
        ("zero\u200bwidth", "U+200B"),
        ("bell\x07", "U+0007"),
    ],
)
def test_control_and_format_characters_are_named_in_the_error(text, code):
    with pytest.raises(ValidationError) as exc:
        validate_no_control_characters(text)
    assert exc.value.messages == [f"Remove the hidden control character ({code}) from this text."]


def test_single_line_refuses_newlines():
    with pytest.raises(ValidationError, match="single line"):
        validate_single_line("two\nlines")


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#ggg000", ""])
def test_bad_colours_are_refused(colour):
    with pytest.raises(ValidationError, match="six hexadecimal digits"):
        validate_hex_colour(colour)
