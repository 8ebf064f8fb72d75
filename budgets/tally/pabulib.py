"""Parser for the pabulib ``.pb`` format (https://pabulib.org/format).

A file has three sections, each a line with its name followed by ``;``-separated rows whose first
row is a header: ``META`` (``key;value``), ``PROJECTS`` (``project_id;cost;...``) and ``VOTES``
(``voter_id;vote;...``). Fields may be quoted (a quoted field may contain ``;``). Numbers are
read with :class:`fractions.Fraction` from their text, never through ``float``, so decimal costs
stay exact.

Anything malformed raises :class:`PabulibError` naming the line. Ballot-length limits in META
(``min_length``, ``max_length``) are not enforced: published files sometimes break them, and the
count must reproduce the published outcome regardless.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .rules import Election

SECTIONS = ("META", "PROJECTS", "VOTES")
VOTE_TYPES = ("approval", "cumulative", "ordinal", "choose-1", "knapsack", "scoring")


class PabulibError(ValueError):
    """A malformed pabulib file; the message names the line (1-based) where that is possible."""


@dataclass(frozen=True)
class PabulibProject:
    id: str
    cost: Fraction
    fields: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PabulibVote:
    voter_id: str
    projects: tuple[str, ...]
    """In the order written: for ordinal ballots, most preferred first."""
    points: tuple[Fraction, ...] | None = None
    """Cumulative and scoring ballots only: one number per project in ``projects``."""


@dataclass(frozen=True)
class PabulibFile:
    meta: dict[str, str]
    projects: dict[str, PabulibProject]
    """In the file's PROJECTS order."""
    votes: tuple[PabulibVote, ...]
    budget: Fraction
    vote_type: str


def parse_number(text: str, *, line: int, what: str) -> Fraction:
    """Read an exact number such as ``5000``, ``1234.50`` or ``1e3``; reject anything else."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise PabulibError(f"line {line}: {what} {text!r} is not a number") from None
    return value


def _split(text: str, line: int) -> list[str]:
    if '"' not in text:  # the common case, and much faster than the csv module
        return [cell.strip() for cell in text.split(";")]
    try:
        rows = list(csv.reader([text], delimiter=";", quotechar='"', strict=True))
    except csv.Error as exc:
        raise PabulibError(f"line {line}: cannot split the row: {exc}") from None
    return [cell.strip() for cell in rows[0]] if rows else []


def _sections(text: str) -> dict[str, list[tuple[int, list[str]]]]:
    """Split the text into sections: name -> rows (line number, cells), header row first."""
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        name = raw.strip().upper()
        if name in SECTIONS:
            if name in sections:
                raise PabulibError(f"line {number}: section {name} appears twice")
            expected = SECTIONS[len(sections)]
            if name != expected:
                raise PabulibError(f"line {number}: expected section {expected}, found {name}")
            sections[name] = []
            current = name
            continue
        if current is None:
            raise PabulibError(f"line {number}: expected section META, found {raw.strip()!r}")
        sections[current].append((number, _split(raw, number)))
    if not sections:
        raise PabulibError("the file is empty: no META, PROJECTS or VOTES section")
    for name in SECTIONS:
        if name not in sections:
            raise PabulibError(f"missing section {name}")
        if not sections[name]:
            raise PabulibError(f"section {name} has no header row")
    return sections


def _records(
    rows: list[tuple[int, list[str]]], section: str, required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    header_line, header = rows[0]
    for column in required:
        if column not in header:
            raise PabulibError(f"line {header_line}: {section} header has no {column!r} column")
    if len(set(header)) != len(header):
        raise PabulibError(f"line {header_line}: {section} header repeats a column")
    records = []
    for number, cells in rows[1:]:
        if len(cells) != len(header):
            raise PabulibError(
                f"line {number}: {section} row has {len(cells)} fields, "
                f"the header has {len(header)}"
            )
        records.append((number, dict(zip(header, cells, strict=True))))
    return records


def _id_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")] if text.strip() else []


def parse_pabulib(text: str) -> PabulibFile:
    """Parse the text of a ``.pb`` file."""
    text = text.removeprefix("\ufeff")
    sections = _sections(text)

    meta: dict[str, str] = {}
    meta_line: dict[str, int] = {}
    for number, record in _records(sections["META"], "META", ("key", "value")):
        if record["key"] in meta:
            raise PabulibError(f"line {number}: META key {record['key']!r} appears twice")
        meta[record["key"]] = record["value"]
        meta_line[record["key"]] = number
    if "budget" not in meta:
        raise PabulibError("META has no 'budget'")
    budget = parse_number(meta["budget"], line=meta_line["budget"], what="budget")
    if budget < 0:
        raise PabulibError(f"line {meta_line['budget']}: budget {meta['budget']!r} is negative")
    vote_type = meta.get("vote_type", "approval").strip()
    if vote_type not in VOTE_TYPES:
        raise PabulibError(
            f"line {meta_line.get('vote_type')}: unknown vote_type {vote_type!r} "
            f"(expected one of {', '.join(VOTE_TYPES)})"
        )

    projects: dict[str, PabulibProject] = {}
    for number, record in _records(sections["PROJECTS"], "PROJECTS", ("project_id", "cost")):
        project_id = record["project_id"]
        if not project_id:
            raise PabulibError(f"line {number}: empty project_id")
        if project_id in projects:
            raise PabulibError(f"line {number}: duplicate project id {project_id!r}")
        cost = parse_number(record["cost"], line=number, what=f"cost of project {project_id!r}")
        if cost < 0:
            raise PabulibError(f"line {number}: cost of project {project_id!r} is negative")
        projects[project_id] = PabulibProject(project_id, cost, record)

    with_points = vote_type in ("cumulative", "scoring")
    required = ("voter_id", "vote", "points") if with_points else ("voter_id", "vote")
    votes: list[PabulibVote] = []
    seen_voters: set[str] = set()
    for number, record in _records(sections["VOTES"], "VOTES", required):
        voter_id = record["voter_id"]
        if voter_id in seen_voters:
            raise PabulibError(f"line {number}: duplicate voter_id {voter_id!r}")
        seen_voters.add(voter_id)
        chosen = _id_list(record["vote"])
        for project_id in chosen:
            if project_id not in projects:
                raise PabulibError(
                    f"line {number}: voter {voter_id!r} votes for unknown project {project_id!r}"
                )
        if len(set(chosen)) != len(chosen):
            raise PabulibError(f"line {number}: voter {voter_id!r} lists a project twice")
        points = None
        if with_points:
            marks = _id_list(record["points"])
            if len(marks) != len(chosen):
                raise PabulibError(
                    f"line {number}: voter {voter_id!r} has {len(chosen)} projects "
                    f"but {len(marks)} points"
                )
            points = tuple(parse_number(m, line=number, what="points") for m in marks)
        votes.append(PabulibVote(voter_id, tuple(chosen), points))

    return PabulibFile(meta, projects, tuple(votes), budget, vote_type)


def read_pabulib(path: str | Path) -> PabulibFile:
    """Read and parse a ``.pb`` file (UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PabulibError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return parse_pabulib(text)


def election_from_pabulib(pb: PabulibFile) -> Election:
    """The counting input: every ballot as approval of the projects it lists.

    Cumulative, scoring, ordinal and choose-1 ballots are read as approval of each listed project
    (points and ranks are ignored), as pabutools does when it counts such files with approval rules.
    """
    return Election(
        {pid: project.cost for pid, project in pb.projects.items()},
        pb.budget,
        [vote.projects for vote in pb.votes],
    )
