"""The one validation module: each question type, good and bad input (no database needed for
most; postcode uses the database)."""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from consultations.surveys.answers import (
    clean_answer,
    display,
    export_value,
    raw_from_post,
    raw_from_text,
)
from consultations.surveys.models import Question
from tests.factories import PostcodeFactory, WardFactory

from .factories import opt

K = Question.Kind


def q(kind, **fields) -> Question:
    fields.setdefault("key", "q")
    return Question(kind=kind, text="Question", **fields)


@pytest.mark.parametrize(
    ("question", "raw", "value"),
    [
        (q(K.SHORT_TEXT), "  Hello  ", "Hello"),
        (q(K.SHORT_TEXT), "", None),
        (q(K.LONG_TEXT), "Line one\r\nLine two", "Line one\nLine two"),
        (q(K.LONG_TEXT), "Speed < 20 mph & safer", "Speed < 20 mph & safer"),
        (q(K.SINGLE, options=opt("Yes", "No")), "yes", "yes"),
        (q(K.DROPDOWN, options=opt("Yes", "No")), "", None),
        (q(K.MULTIPLE, options=opt("A", "B", "C")), ["c", "a"], ["a", "c"]),
        (q(K.MULTIPLE, options=opt("A", "B", "C")), [], None),
        (q(K.RANKING, options=opt("A", "B", "C")), {"a": "2", "b": "3", "c": "1"}, ["c", "a", "b"]),
        (q(K.RANKING, options=opt("A", "B", "C")), ["b", "a", "c"], ["b", "a", "c"]),
        (
            q(K.MATRIX, options=opt("Agree", "Disagree"), rows=opt("Parks", "Roads")),
            {"parks": "agree", "roads": "disagree"},
            {"parks": "agree", "roads": "disagree"},
        ),
        (q(K.NUMBER, min_value=Decimal(0), max_value=Decimal(100)), "1,000"[:1] + "2.50", "12.5"),
        (q(K.NUMBER), "-3", "-3"),
        (q(K.DATE), {"day": "7", "month": "3", "year": "2026"}, "2026-03-07"),
        (q(K.DATE), "2026-03-07", "2026-03-07"),
        (q(K.DATE), "7/3/2026", "2026-03-07"),
        (q(K.EMAIL), " Jo@Example.ORG ", "Jo@example.org"),
        (q(K.CONSENT), "yes", True),
        (q(K.CONSENT), "", None),
    ],
)
def test_good_answers_are_cleaned(question, raw, value):
    assert clean_answer(question, raw) == value


@pytest.mark.parametrize(
    ("question", "raw", "message"),
    [
        (q(K.SHORT_TEXT), "x" * 201, "Your answer must be 200 characters or fewer (it has 201)."),
        (
            q(K.SHORT_TEXT, max_length=5),
            "abcdef",
            "Your answer must be 5 characters or fewer (it has 6).",
        ),
        (q(K.SHORT_TEXT), "two\nlines", "Enter this on a single line."),
        (q(K.LONG_TEXT), "<script>alert(1)</script>", "Remove the HTML"),
        (q(K.LONG_TEXT), "bidi \u202e trick", "Remove the hidden control character (U+202E)"),
        (q(K.SHORT_TEXT), ["a", "list"], "Enter text."),
        (q(K.SINGLE, options=opt("Yes", "No")), "maybe", "Select one of the options offered."),
        (q(K.SINGLE, options=opt("Yes", "No"), required=True), "", "Select an answer."),
        (q(K.MULTIPLE, options=opt("A", "B")), ["a", "z"], "Select only the options offered."),
        (q(K.MULTIPLE, options=opt("A", "B")), ["a", "a"], "Select each option once."),
        (
            q(K.MULTIPLE, options=opt("A", "B", "C"), max_choices=2),
            ["a", "b", "c"],
            "Select no more than 2 options.",
        ),
        (
            q(K.MULTIPLE, options=opt("A", "B", "C"), min_choices=2),
            ["a"],
            "Select at least 2 options.",
        ),
        (
            q(K.RANKING, options=opt("A", "B")),
            {"a": "1", "b": "1"},
            "Give each option a different number from 1 to 2.",
        ),
        (
            q(K.RANKING, options=opt("A", "B")),
            {"a": "1", "b": "x"},
            "Give each option a number from 1 to 2.",
        ),
        (
            q(K.RANKING, options=opt("A", "B")),
            {"a": "1", "zz": "2"},
            "Rank only the options offered.",
        ),
        (q(K.RANKING, options=opt("A", "B")), ["a", "a"], "Rank every option offered, each once."),
        (
            q(K.MATRIX, options=opt("Agree"), rows=opt("Parks", "Roads"), required=True),
            {"parks": "agree"},
            "Answer every row.",
        ),
        (
            q(K.MATRIX, options=opt("Agree"), rows=opt("Parks")),
            {"parks": "meh"},
            "Select one of the options offered in each row.",
        ),
        (q(K.NUMBER), "twelve", "Enter a number, like 12 or 3.5."),
        (q(K.NUMBER), "NaN", "Enter a number, like 12 or 3.5."),
        (q(K.NUMBER), "1e999999", "Enter a number, like 12 or 3.5."),
        (
            q(K.NUMBER, min_value=Decimal(1), max_value=Decimal(10)),
            "11",
            "Enter a number between 1 and 10.",
        ),
        (q(K.NUMBER, min_value=Decimal(1)), "0", "Enter a number of 1 or more."),
        (
            q(K.DATE),
            {"day": "31", "month": "2", "year": "2026"},
            "The date must be a real date, like 27 3 2026.",
        ),
        (q(K.DATE), {"day": "1", "month": "", "year": "2026"}, "The date must include a month."),
        (q(K.DATE), "yesterday", "Enter a date like 27 3 2026."),
        (q(K.EMAIL), "not-an-email", "Enter an email address like name@example.com."),
        (q(K.POSTCODE), "12345", "Enter a real postcode, like CF10 1EP."),
        (q(K.CONSENT, required=True), "", "You must agree to continue."),
        (q(K.CONSENT), "maybe", "Tick the box to agree."),
    ],
)
def test_bad_answers_get_a_clear_message(question, raw, message):
    with pytest.raises(ValidationError) as exc:
        clean_answer(question, raw)
    assert exc.value.messages[0].startswith(message)


@pytest.mark.django_db
def test_postcode_gives_the_ward_or_none_outside_the_area():
    PostcodeFactory(ward=WardFactory(name="Canol", slug="canol"), postcode="CF10 1EP")
    assert clean_answer(q(K.POSTCODE), "cf101ep") == {"postcode": "CF10 1EP", "ward": "canol"}
    assert clean_answer(q(K.POSTCODE), "SW1A 1AA") == {"postcode": "SW1A 1AA", "ward": None}


def test_files_are_checked_by_type_size_and_content():
    question = q(K.FILE)
    good = SimpleUploadedFile("plan.pdf", b"%PDF-1.7 rest", content_type="application/pdf")
    assert clean_answer(question, good) is good
    for upload, message in [
        (SimpleUploadedFile("run.exe", b"MZ..."), "The file must be a PDF, JPG or PNG."),
        (SimpleUploadedFile("fake.pdf", b"<html>"), "The file must be a PDF, JPG or PNG: this one"),
        (SimpleUploadedFile("empty.png", b""), "The file is empty."),
        (
            SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
            "The file must be smaller than 10 MB.",
        ),
    ]:
        with pytest.raises(ValidationError) as exc:
            clean_answer(question, upload)
        assert exc.value.messages[0].startswith(message)
    with pytest.raises(ValidationError):
        clean_answer(question, io.BytesIO(b"%PDF-"))


def test_raw_values_from_a_post_and_round_trip_through_a_cell():
    matrix = q(K.MATRIX, options=opt("Agree", "Disagree"), rows=opt("Parks", "Roads"))
    ranking = q(K.RANKING, options=opt("A", "B"))
    date = q(K.DATE)
    multiple = q(K.MULTIPLE, options=opt("A", "B"))
    data = QueryDict(mutable=True)
    data.update({"q-q-parks": "agree", "q-q-roads": "disagree", "q-q-a": "2", "q-q-b": "1"})
    data.update({"q-q-day": "1", "q-q-month": "2", "q-q-year": "2026"})
    data.setlist("q-q", ["a", "b"])
    assert clean_answer(matrix, raw_from_post(matrix, data)) == {
        "parks": "agree",
        "roads": "disagree",
    }
    assert clean_answer(ranking, raw_from_post(ranking, data)) == ["b", "a"]
    assert clean_answer(date, raw_from_post(date, data)) == "2026-02-01"
    assert clean_answer(multiple, raw_from_post(multiple, data)) == ["a", "b"]
    for question, value in [
        (matrix, {"parks": "agree", "roads": "disagree"}),
        (ranking, ["b", "a"]),
        (multiple, ["a", "b"]),
        (date, "2026-02-01"),
        (q(K.CONSENT), True),
        (q(K.NUMBER), "12.5"),
    ]:
        assert (
            clean_answer(question, raw_from_text(question, export_value(question, value))) == value
        )
    assert display(matrix, {"parks": "agree"}) == "Parks: Agree"
    assert display(ranking, ["b", "a"]) == "1. B; 2. A"
    assert display(date, "2026-02-01") == "1 February 2026"
    with pytest.raises(ValidationError):
        raw_from_text(matrix, "parks-agree")


raw_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=300)
    | st.sampled_from(["yes", "no", "a", "b", "parks", "1", "2", "2026-02-30", "CF10 1EP"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "parks", "day", "month", "year", "x"]), children
        )
    ),
    max_leaves=8,
)
every_kind = st.sampled_from(
    [
        q(K.SHORT_TEXT),
        q(K.LONG_TEXT, required=True),
        q(K.SINGLE, options=opt("A", "B")),
        q(K.DROPDOWN, options=opt("A", "B"), required=True),
        q(K.MULTIPLE, options=opt("A", "B"), min_choices=1, max_choices=2),
        q(K.RANKING, options=opt("A", "B")),
        q(K.MATRIX, options=opt("A", "B"), rows=opt("Parks"), required=True),
        q(K.NUMBER, min_value=Decimal(0), max_value=Decimal(9)),
        q(K.DATE),
        q(K.EMAIL),
        q(K.CONSENT, required=True),
        q(K.FILE),
    ]
)


@given(every_kind, raw_values)
def test_any_input_is_an_answer_or_a_clear_error(question, raw):
    """Whatever arrives (a tampered form, a strange import cell, an API client), cleaning either
    gives a value of the stored shape or a ValidationError with a message: never a crash."""
    try:
        value = clean_answer(question, raw)
    except ValidationError as exc:
        messages = exc.messages
        value = None
    else:
        messages = []
    assert all(isinstance(m, str) and m for m in messages)
    if value is not None:
        assert display(question, value) is not None
        assert (
            clean_answer(question, raw_from_text(question, export_value(question, value))) == value
        )
