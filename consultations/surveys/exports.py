"""Exports of submitted responses: CSV, XLSX and JSON, streamed so memory stays flat however
many responses there are, and the JSON that i.AI's Consult tool imports.

Rows come from the database in chunks (``iterator``), each response's answers with it; the CSV
and JSON are generated line by line into a StreamingHttpResponse; the XLSX is written row by row
by XlsxWriter in constant-memory mode to a temporary file, which is then streamed.

The CSV's answer columns are the question keys and its cells are what ``answers.raw_from_text``
reads, so an export imports back (``responses.responses_import_csv``).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from .answers import CHOICE_KINDS, TEXT_KINDS, display, export_value
from .models import Answer, Consultation, Question, Response
from .selectors import questions as questions_of

FIXED = ["reference", "submitted_at", "channel", "ward", "version"]
CHUNK = 2000


def columns(consultation: Consultation) -> list[Question]:
    """The answer columns: every question key across versions, current wording first."""
    seen: dict[str, Question] = {}
    versions = list(consultation.versions.order_by("-number"))
    for version in versions:
        for q in questions_of(version):
            if q.key not in seen and not q.section.equality:
                seen[q.key] = q
    current = [q.key for q in questions_of(versions[0])] if versions else []
    return sorted(seen.values(), key=lambda q: (q.key not in current, _index(current, q.key)))


def _index(keys: list[str], key: str) -> int:
    return keys.index(key) if key in keys else 0


def rows(consultation: Consultation, *, labels: bool = False) -> Iterator[list[str]]:
    """The header, then one row per submitted response (cells as text).

    Responses are read in keyset-paginated chunks of plain tuples, and each chunk's answers in
    one query as ``(response, question key, value)``: memory stays that of one chunk."""
    qs = columns(consultation)
    by_key = {q.key: q for q in qs}
    position = {q.key: n for n, q in enumerate(qs)}
    # Every version's question ids, to the column of their key (no join per answer row).
    column: dict[int, tuple[int, Question]] = {
        pk: (position[key], by_key[key])
        for pk, key in Question.objects.filter(
            section__version__consultation=consultation
        ).values_list("pk", "key")
        if key in position
    }
    yield FIXED + [q.key for q in qs]
    render = display if labels else export_value
    found = (
        Response.objects.filter(consultation=consultation, state=Response.State.SUBMITTED)
        .order_by("pk")
        .values_list("pk", "reference", "submitted_at", "channel", "ward__slug", "version__number")
    )
    last = 0
    while True:
        chunk = list(found.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        first, last = chunk[0][0], chunk[-1][0]
        cells: dict[int, list[str]] = {pk: [""] * len(qs) for pk, *_rest in chunk}
        # A range of response ids reads the (response, question) index in order; answers of
        # other responses in the range (drafts are never answers; other consultations) are
        # skipped here.
        answers = Answer.objects.filter(response_id__gte=first, response_id__lte=last).values_list(
            "response_id", "question_id", Cast("value", TextField())
        )
        for response_id, question_id, text in answers:
            row = cells.get(response_id)
            where = column.get(question_id)
            if row is not None and where is not None:
                row[where[0]] = render(where[1], _json(text))
        for pk, reference, submitted_at, channel, ward, version in chunk:
            yield [
                reference or "",
                timezone.localtime(submitted_at).isoformat(timespec="seconds")
                if submitted_at
                else "",
                channel,
                ward or "",
                str(version),
                *cells[pk],
            ]


def _json(text: str) -> Any:
    """A stored JSON value; plain strings (most answers) without the cost of a parser."""
    if text.startswith('"') and "\\" not in text:
        return text[1:-1]
    return json.loads(text)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(consultation: Consultation) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so spreadsheet programs read UTF-8
    for row in rows(consultation):
        yield writer.writerow(row)


def json_stream(consultation: Consultation) -> Iterator[str]:
    """``{"consultation": {...}, "questions": [...], "responses": [{...}, ...]}`` in pieces."""
    qs = columns(consultation)
    head = {
        "consultation": {
            "slug": consultation.slug,
            "title": consultation.title,
            "opens_at": consultation.opens_at.isoformat(),
            "closes_at": consultation.closes_at.isoformat(),
        },
        "questions": [
            {
                "key": q.key,
                "kind": q.kind,
                "text": q.text,
                "options": q.options,
                "rows": q.rows,
            }
            for q in qs
        ],
    }
    text = json.dumps(head, ensure_ascii=False)
    yield text[:-1] + ', "responses": ['
    first = True
    iterator = rows(consultation)
    header = next(iterator)
    for row in iterator:
        record = dict(zip(header[: len(FIXED)], row[: len(FIXED)], strict=True))
        record["answers"] = {
            key: cell
            for key, cell in zip(header[len(FIXED) :], row[len(FIXED) :], strict=True)
            if cell
        }
        yield ("" if first else ",") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "]}"


def xlsx_file(consultation: Consultation) -> Any:
    """A temporary file holding the XLSX (rows written one by one in constant memory)."""
    import xlsxwriter

    handle = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, closed by the response
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet("Responses")
    bold = workbook.add_format({"bold": True})
    for n, row in enumerate(rows(consultation, labels=True)):
        sheet.write_row(n, 0, row, bold if n == 0 else None)
    workbook.close()
    handle.seek(0)
    return handle


def _consult_options(q: Question, value: Any) -> list[str]:
    labels = dict(q.choices)
    if q.kind in (Question.Kind.SINGLE, Question.Kind.DROPDOWN):
        return [labels.get(value, value)]
    if q.kind == Question.Kind.MATRIX:
        rows_ = dict(q.row_choices)
        return [f"{rows_.get(r, r)}: {labels.get(c, c)}" for r, c in value.items()]
    return [labels.get(v, v) for v in value]


def consult_stream(consultation: Consultation) -> Iterator[str]:
    """The consultation in the shape of i.AI Consult's ``ConsultationDataBatch`` (its import
    of respondents, questions, free-text responses and multiple-choice selections), streamed:
    each question that has free text or options becomes a numbered question, each respondent a
    ``themefinder_id`` (1, 2, … in the order they responded) with their channel and ward as
    demographics; equality answers are not included. One pass over the respondents, then one
    per question over its answers, in chunks."""
    qs = [q for q in columns(consultation) if q.kind in TEXT_KINDS | CHOICE_KINDS]
    submitted = Response.objects.filter(consultation=consultation, state=Response.State.SUBMITTED)
    ids: dict[int, int] = {}
    head = {
        "consultation_code": consultation.slug,
        "consultation_title": consultation.title,
        "timestamp": timezone.now().strftime("%Y-%m-%dT%H-%M-%S"),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "respondents": ['
    people = submitted.order_by("pk").values_list("pk", "channel", "ward__name")
    for n, (pk, channel, ward) in enumerate(people.iterator(chunk_size=CHUNK), 1):
        ids[pk] = n
        demographics = {"channel": [channel]} | ({"ward": [ward]} if ward else {})
        record = {"themefinder_id": n, "demographic_data": demographics}
        yield ("" if n == 1 else ",") + json.dumps(record, ensure_ascii=False)
    questions = []
    for number, q in enumerate(qs, 1):
        if q.kind == Question.Kind.MATRIX:
            options = [f"{row}: {label}" for _r, row in q.row_choices for _v, label in q.choices]
        else:
            options = [label for _v, label in q.choices]
        questions.append(
            {
                "question_text": q.text,
                "question_number": number,
                "has_free_text": q.kind in TEXT_KINDS,
                "multi_choice_options": options,
            }
        )
    yield '], "questions": ' + json.dumps(questions, ensure_ascii=False)
    for field, kinds in (
        ("responses_by_question", TEXT_KINDS),
        ("multi_choice_by_question", CHOICE_KINDS),
    ):
        yield f', "{field}": {{'
        first_question = True
        for number, q in enumerate(qs, 1):
            if q.kind not in kinds:
                continue
            answers = (
                Answer.objects.filter(response__in=submitted, question__key=q.key)
                .order_by("response_id")
                .values_list("response_id", "value")
            )
            first = True
            for response_id, value in answers.iterator(chunk_size=CHUNK * 5):
                if first:
                    yield ("" if first_question else ",") + f'"{number}": ['
                    first_question = False
                record: dict[str, Any] = {"themefinder_id": ids[response_id]}
                if q.kind in TEXT_KINDS:
                    record["text"] = value
                else:
                    record["options"] = _consult_options(q, value)
                yield ("" if first else ",") + json.dumps(record, ensure_ascii=False)
                first = False
            if not first:
                yield "]"
        yield "}"
    yield "}"


def csv_text(consultation: Consultation) -> str:
    """The whole CSV as one string (small exports and tests)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows(consultation):
        writer.writerow(row)
    return out.getvalue()
