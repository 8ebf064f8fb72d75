"""The one place an answer is read, checked and shown, for every question type.

Every door in uses it: the online form and staff entry read raw values from a POST with
:func:`raw_from_post`, a CSV import from a cell with :func:`raw_from_text`; then
:func:`clean_answer` turns the raw value into the stored JSON value (or ``None`` for no answer),
raising ``ValidationError`` with a message written for the respondent. :func:`display` renders a
stored value for people (check your answers, exports) and :func:`text_of` for free-text analysis.

Stored values: text, email, single choice, dropdown, number (a decimal string), date (ISO) →
``str``; multiple choice and ranking → ``list[str]`` (ranking in rank order); matrix →
``{row: column}``; postcode → ``{"postcode": "CF10 1EP", "ward": "<slug>" | None}``; consent →
``True``; file → ``{"name", "path", "size", "type"}``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from engagement.core.validators import validate_no_markup

from .models import Question

K = Question.Kind
CHOICE_KINDS = {K.SINGLE, K.DROPDOWN, K.MULTIPLE, K.RANKING, K.MATRIX}
"""Kinds whose answers are counted (closed questions)."""
TEXT_KINDS = {K.SHORT_TEXT, K.LONG_TEXT}
"""Kinds whose answers are free text (themes are tagged on them)."""
PERSONAL_KINDS = {K.EMAIL, K.POSTCODE, K.FILE}
"""Kinds removed or reduced when a response is anonymised."""

SHORT_MAX = 200
LONG_MAX = 5000
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_TYPES = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}


def _fail(message: str, code: str = "invalid") -> None:
    raise ValidationError(message, code=code)


def _required_message(question: Question) -> str:
    if question.kind in (K.SINGLE, K.DROPDOWN, K.MULTIPLE):
        return _("Select an answer.")
    if question.kind == K.CONSENT:
        return _("You must agree to continue.")
    if question.kind == K.FILE:
        return _("Choose a file to upload.")
    if question.kind == K.RANKING:
        return _("Rank every option.")
    if question.kind == K.MATRIX:
        return _("Answer every row.")
    if question.kind == K.DATE:
        return _("Enter a date.")
    return _("Enter an answer.")


# --- reading raw values --------------------------------------------------------------------------


def field_name(question: Question, prefix: str = "") -> str:
    return f"{prefix}q-{question.key}"


def raw_from_post(question: Question, data: Any, files: Any = None, prefix: str = "") -> Any:
    """The raw answer to ``question`` from a POST (a QueryDict) and its files."""
    name = field_name(question, prefix)
    kind = question.kind
    if kind == K.MULTIPLE:
        return data.getlist(name)
    if kind == K.RANKING:
        return {value: data.get(f"{name}-{value}", "") for value, _label in question.choices}
    if kind == K.MATRIX:
        return {value: data.get(f"{name}-{value}", "") for value, _label in question.row_choices}
    if kind == K.DATE:
        return {part: data.get(f"{name}-{part}", "") for part in ("day", "month", "year")}
    if kind == K.FILE:
        return files.get(name) if files is not None else None
    return data.get(name, "")


def raw_from_text(question: Question, text: str) -> Any:
    """The raw answer from one CSV cell: lists are separated by ``;``, matrix cells are
    ``row=column`` pairs, ranking is the option values in rank order, consent is yes/no."""
    text = (text or "").strip()
    kind = question.kind
    if kind in (K.MULTIPLE, K.RANKING):
        return [part.strip() for part in text.split(";") if part.strip()]
    if kind == K.MATRIX:
        pairs: dict[str, str] = {}
        for part in text.split(";"):
            if not part.strip():
                continue
            row, sep, column = part.partition("=")
            if not sep:
                _fail(_("Write each row as row=column, separated by semicolons."))
            pairs[row.strip()] = column.strip()
        return pairs
    if kind == K.CONSENT:
        return "yes" if text.lower() in ("yes", "y", "true", "1") else ""
    if kind == K.FILE:
        if text:
            _fail(_("Files cannot be imported from a spreadsheet."))
        return None
    return text


# --- cleaning ------------------------------------------------------------------------------------


def clean_answer(question: Question, raw: Any, *, enforce_required: bool = True) -> Any:
    """The stored value of ``raw`` (``None`` if unanswered), or ValidationError.

    ``enforce_required=False`` leaves "required" to the caller, who knows whether the question
    is shown at all (see :func:`required_error`)."""
    value = None if raw is None else _CLEANERS[question.kind](question, raw)
    if value is None and question.required and enforce_required:
        _fail(_required_message(question), "required")
    return value


def required_error(question: Question) -> ValidationError:
    return ValidationError(_required_message(question), code="required")


def _text(question: Question, raw: Any, limit: int, single_line: bool) -> str | None:
    if not isinstance(raw, str):
        _fail(_("Enter text."))
    text = raw.strip().replace("\r\n", "\n")
    if not text:
        return None
    limit = question.max_length or limit
    if len(text) > limit:
        _fail(
            _("Your answer must be %(limit)s characters or fewer (it has %(count)s).")
            % {"limit": limit, "count": len(text)},
            "too_long",
        )
    if single_line and ("\n" in text or "\t" in text):
        _fail(_("Enter this on a single line."))
    validate_no_markup(text)
    return text


def _short(question: Question, raw: Any) -> str | None:
    return _text(question, raw, SHORT_MAX, single_line=True)


def _long(question: Question, raw: Any) -> str | None:
    return _text(question, raw, LONG_MAX, single_line=False)


def _one_of(question: Question, raw: Any) -> str | None:
    if not isinstance(raw, str):
        _fail(_("Select one of the options."))
    if raw == "":
        return None
    if raw not in {value for value, _label in question.choices}:
        _fail(_("Select one of the options offered."), "not_offered")
    return raw


def _many(question: Question, raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        raw = [raw] if raw else []
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        _fail(_("Select the options that apply."))
    offered = [value for value, _label in question.choices]
    chosen = [v for v in raw if v]
    if any(v not in offered for v in chosen):
        _fail(_("Select only the options offered."), "not_offered")
    if len(set(chosen)) != len(chosen):
        _fail(_("Select each option once."))
    if not chosen:
        return None
    if question.min_choices and len(chosen) < question.min_choices:
        _fail(_("Select at least %(n)s options.") % {"n": question.min_choices}, "too_few")
    if question.max_choices and len(chosen) > question.max_choices:
        _fail(_("Select no more than %(n)s options.") % {"n": question.max_choices}, "too_many")
    return sorted(chosen, key=offered.index)


def _ranking(question: Question, raw: Any) -> list[str] | None:
    offered = [value for value, _label in question.choices]
    if isinstance(raw, dict):  # {option: "position"} from the form
        if any(k not in offered for k in raw):
            _fail(_("Rank only the options offered."), "not_offered")
        given = {k: str(v).strip() for k, v in raw.items() if str(v).strip()}
        if not given:
            return None
        try:
            positions = {k: int(v) for k, v in given.items()}
        except ValueError:
            _fail(_("Give each option a number from 1 to %(n)s.") % {"n": len(offered)})
        if len(given) != len(offered) or sorted(positions.values()) != list(
            range(1, len(offered) + 1)
        ):
            _fail(
                _("Give each option a different number from 1 to %(n)s.") % {"n": len(offered)},
                "incomplete",
            )
        return sorted(positions, key=positions.__getitem__)
    if isinstance(raw, list | tuple):
        if not raw:
            return None
        if sorted(map(str, raw)) != sorted(offered):
            _fail(_("Rank every option offered, each once."), "incomplete")
        return [str(v) for v in raw]
    _fail(_("Rank the options."))
    return None


def _matrix(question: Question, raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        _fail(_("Answer each row."))
    rows = [value for value, _label in question.row_choices]
    columns = {value for value, _label in question.choices}
    if any(k not in rows for k in raw):
        _fail(_("Answer only the rows offered."), "not_offered")
    given = {k: v for k, v in raw.items() if v not in ("", None)}
    if any(not isinstance(v, str) or v not in columns for v in given.values()):
        _fail(_("Select one of the options offered in each row."), "not_offered")
    if not given:
        return None
    if question.required and len(given) != len(rows):
        _fail(_("Answer every row."), "incomplete")
    return {row: given[row] for row in rows if row in given}


_NUMBER = re.compile(r"-?\d{1,12}(\.\d{1,4})?")


def _number(question: Question, raw: Any) -> str | None:
    if not isinstance(raw, str | int | float | Decimal):
        _fail(_("Enter a number."))
    text = str(raw).strip().replace(",", "")
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        _fail(_("Enter a number, like 12 or 3.5."))
    number = Decimal(text)
    low, high = question.min_value, question.max_value
    if low is not None and high is not None and not low <= number <= high:
        _fail(
            _("Enter a number between %(low)s and %(high)s.")
            % {"low": _plain(low), "high": _plain(high)},
            "range",
        )
    if low is not None and number < low:
        _fail(_("Enter a number of %(low)s or more.") % {"low": _plain(low)}, "range")
    if high is not None and number > high:
        _fail(_("Enter a number of %(high)s or less.") % {"high": _plain(high)}, "range")
    return _plain(number)


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _date(question: Question, raw: Any) -> str | None:
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text) or re.fullmatch(
            r"(\d{1,2})/(\d{1,2})/(\d{4})", text
        )
        if not match:
            _fail(_("Enter a date like 27 3 2026."))
        parts = match.groups()
        year, month, day = parts if len(parts[0]) == 4 else parts[::-1]
    elif isinstance(raw, dict):
        day, month, year = (str(raw.get(k, "")).strip() for k in ("day", "month", "year"))
        if not (day or month or year):
            return None
        missing = [
            name
            for name, part in ((_("day"), day), (_("month"), month), (_("year"), year))
            if not part
        ]
        if missing:
            _fail(_("The date must include a %(part)s.") % {"part": missing[0]}, "incomplete")
    else:
        _fail(_("Enter a date like 27 3 2026."))
    try:
        value = dt.date(int(year), int(month), int(day))
    except (TypeError, ValueError):
        _fail(_("The date must be a real date, like 27 3 2026."), "invalid_date")
    if not 1900 <= value.year <= 2200:
        _fail(_("The year must be between 1900 and 2200."), "invalid_date")
    return value.isoformat()


def _postcode(question: Question, raw: Any) -> dict | None:
    from engagement.places.selectors import normalise_postcode, postcode_lookup

    if not isinstance(raw, str):
        _fail(_("Enter a postcode."))
    if not raw.strip():
        return None
    canonical = normalise_postcode(raw)
    try:
        ward = postcode_lookup(canonical).ward
    except ValidationError:
        ward = None  # a real postcode outside the area: kept, with no ward
    return {"postcode": canonical, "ward": ward.slug if ward else None}


def _email(question: Question, raw: Any) -> str | None:
    if not isinstance(raw, str):
        _fail(_("Enter an email address."))
    text = raw.strip()
    if not text:
        return None
    if len(text) > 254:
        _fail(_("Enter an email address like name@example.com."))
    try:
        validate_email(text)
    except ValidationError:
        _fail(_("Enter an email address like name@example.com."))
    local, _at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _consent(question: Question, raw: Any) -> bool | None:
    if raw in (True, "yes", "on"):
        return True
    if raw in (None, "", False, "no"):
        return None
    _fail(_("Tick the box to agree."))
    return None


def _file(question: Question, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict) and {"name", "path", "size", "type"} <= raw.keys():
        return raw  # already stored on an earlier page
    if not isinstance(raw, UploadedFile):
        _fail(_("Choose a file to upload."))
    extension = raw.name.rsplit(".", 1)[-1].lower() if "." in raw.name else ""
    if extension not in UPLOAD_TYPES:
        _fail(_("The file must be a PDF, JPG or PNG."), "file_type")
    if raw.size > UPLOAD_MAX_BYTES:
        _fail(_("The file must be smaller than 10 MB."), "file_size")
    if raw.size == 0:
        _fail(_("The file is empty."), "file_empty")
    raw.seek(0)
    head = raw.read(16)
    raw.seek(0)
    if not any(head.startswith(magic) for magic in UPLOAD_TYPES[extension][1]):
        _fail(_("The file must be a PDF, JPG or PNG: this one is not what its name says."))
    return raw


_CLEANERS = {
    K.SHORT_TEXT: _short,
    K.LONG_TEXT: _long,
    K.SINGLE: _one_of,
    K.DROPDOWN: _one_of,
    K.MULTIPLE: _many,
    K.RANKING: _ranking,
    K.MATRIX: _matrix,
    K.NUMBER: _number,
    K.DATE: _date,
    K.POSTCODE: _postcode,
    K.EMAIL: _email,
    K.CONSENT: _consent,
    K.FILE: _file,
}


def store_upload(upload: UploadedFile) -> dict:
    """Save an uploaded file under a random folder; the stored value that points to it."""
    from django.core.files.storage import default_storage

    extension = upload.name.rsplit(".", 1)[-1].lower()
    name = get_valid_filename(upload.name)[-100:] or f"upload.{extension}"
    path = default_storage.save(f"consultations/uploads/{secrets.token_urlsafe(12)}/{name}", upload)
    return {"name": name, "path": path, "size": upload.size, "type": UPLOAD_TYPES[extension][0]}


# --- showing -------------------------------------------------------------------------------------


def display(question: Question, value: Any) -> str:
    """A stored value as people read it (labels, not codes)."""
    if value is None:
        return ""
    kind = question.kind
    labels = dict(question.choices)
    if kind in (K.SINGLE, K.DROPDOWN):
        return labels.get(value, value)
    if kind == K.MULTIPLE:
        return "; ".join(labels.get(v, v) for v in value)
    if kind == K.RANKING:
        return "; ".join(f"{n}. {labels.get(v, v)}" for n, v in enumerate(value, 1))
    if kind == K.MATRIX:
        rows = dict(question.row_choices)
        return "; ".join(f"{rows.get(r, r)}: {labels.get(c, c)}" for r, c in value.items())
    if kind == K.POSTCODE:
        return value.get("postcode", "")
    if kind == K.CONSENT:
        return _("Yes") if value else ""
    if kind == K.FILE:
        return value.get("name", "")
    if kind == K.DATE:
        return dt.date.fromisoformat(value).strftime("%-d %B %Y")
    return str(value)


def export_value(question: Question, value: Any) -> str:
    """A stored value as a spreadsheet cell that :func:`raw_from_text` reads back."""
    if value is None:
        return ""
    kind = question.kind
    if kind in (K.MULTIPLE, K.RANKING):
        return ";".join(value)
    if kind == K.MATRIX:
        return ";".join(f"{r}={c}" for r, c in value.items())
    if kind == K.POSTCODE:
        return value.get("postcode", "")
    if kind == K.CONSENT:
        return "yes" if value else ""
    if kind == K.FILE:
        return value.get("name", "")
    return str(value)


def text_of(question: Question, value: Any) -> str:
    """The free text of an answer (empty for closed questions)."""
    return value if question.kind in TEXT_KINDS and isinstance(value, str) else ""
