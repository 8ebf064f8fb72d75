"""Published files: results as CSV, anonymised ballots as CSV and as pabulib (.pb).

Ballots are published with their public id (which a voter's receipt check shows) and their
choices: never the voter, the channel or any time, so a small group cannot be picked out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from .models import Ballot, BallotChoice, Budget, Project

PABULIB_VOTE_TYPE = {
    "approval": "approval",
    "knapsack": "approval",
    "cumulative": "cumulative",
    "ranked": "ordinal",
}
PABULIB_RULE = {"greedy": "greedy", "greedy-no-skip": "greedy-no-skip", "phragmen": "phragmen"}


def _pabulib_rule(budget: Budget) -> str:
    if budget.rule != "mes":
        return PABULIB_RULE[budget.rule]
    rule = "equalshares"
    if budget.completion != "none":
        rule += "/" + budget.completion
    if budget.comparison:
        rule += "-comparison"
    return rule


def _cell(value: Any) -> str:
    """pabulib separates with ``;``: keep it (and line breaks) out of values."""
    return str(value).replace(";", ",").replace("\r", " ").replace("\n", " ")


def _number(value: Any) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def ballot_rows(budget: Budget) -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """``(public id, [(project reference, value), ...])`` per ballot, ranked ones in rank order."""
    ballots = dict(Ballot.objects.filter(budget=budget).values_list("pk", "public_id"))
    choices: dict[Any, list[tuple[str, int]]] = {pk: [] for pk in ballots}
    rows = BallotChoice.objects.filter(ballot__budget=budget).values_list(
        "ballot_id", "project__reference", "value"
    )
    for ballot_id, reference, value in rows.iterator(chunk_size=20_000):
        choices[ballot_id].append((reference, value))
    ranked = budget.ballot_type == "ranked"
    for pk, public_id in sorted(ballots.items(), key=lambda item: item[1]):
        picked = choices[pk]
        picked.sort(key=(lambda c: c[1]) if ranked else (lambda c: c[0]))
        yield public_id, picked


def pabulib_export(budget: Budget, *, council: str = "") -> str:
    result = getattr(budget, "result", None)
    selected = set(result.selected) if result is not None and result.status == "done" else set()
    projects = list(budget.projects.filter(status=Project.Status.ACCEPTED).order_by("reference"))
    votes = dict.fromkeys((p.reference for p in projects), 0)
    ballots = list(ballot_rows(budget))
    for _public_id, picked in ballots:
        for reference, _value in picked:
            votes[reference] += 1
    round_ = budget.round
    meta: list[tuple[str, Any]] = [
        ("description", f"{round_.title}: {budget.name}"),
        ("country", "United Kingdom"),
        ("unit", council),
        ("instance", round_.slug),
        ("subunit", budget.ward.name if budget.ward_id else ""),
        ("num_projects", len(projects)),
        ("num_votes", len(ballots)),
        ("budget", _number(budget.amount)),
        ("vote_type", PABULIB_VOTE_TYPE[budget.ballot_type]),
        ("rule", _pabulib_rule(budget)),
        ("min_length", budget.min_projects),
    ]
    if budget.max_projects:
        meta.append(("max_length", budget.max_projects))
    if budget.ballot_type == "cumulative":
        meta += [("max_sum_points", budget.points), ("max_points", budget.max_points_per_project)]
    if round_.voting_opens_at:
        meta.append(("date_begin", round_.voting_opens_at.date().isoformat()))
    if round_.voting_closes_at:
        meta.append(("date_end", round_.voting_closes_at.date().isoformat()))
    out = ["META", "key;value"]
    out += [f"{key};{_cell(value)}" for key, value in meta if value != ""]
    out += ["PROJECTS", "project_id;cost;votes;name;selected"]
    out += [
        f"{_cell(p.reference)};{_number(p.cost)};{votes[p.reference]};{_cell(p.title)};"
        f"{1 if p.reference in selected else 0}"
        for p in projects
    ]
    cumulative = budget.ballot_type == "cumulative"
    out += ["VOTES", "voter_id;vote;points" if cumulative else "voter_id;vote"]
    for public_id, picked in ballots:
        line = f"{public_id};{','.join(r for r, _v in picked)}"
        if cumulative:
            line += ";" + ",".join(str(v) for _r, v in picked)
        out.append(line)
    return "\n".join(out) + "\n"


def csv_text(header: list[str], rows: Iterator[list[Any]] | list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_csv(v) for v in row])
    return buffer.getvalue()


def _safe_csv(value: Any) -> Any:
    """Keep spreadsheet formulas out of text cells (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def ballots_csv(budget: Budget) -> str:
    return csv_text(
        ["ballot", "project", "value"],
        (
            [public_id, reference, value]
            for public_id, picked in ballot_rows(budget)
            for reference, value in picked
        ),
    )


def results_csv(budgets: list[Budget]) -> str:
    from .selectors import budget_result

    rows = []
    for budget in budgets:
        outcome = budget_result(budget)
        if outcome is None:
            continue
        for row in outcome.rows:
            rows.append(
                [
                    budget.name,
                    row.project.reference,
                    row.project.title,
                    _number(row.project.cost),
                    row.votes,
                    "" if row.points is None else row.points,
                    "yes" if row.funded else "no",
                ]
            )
    return csv_text(["budget", "reference", "project", "cost", "votes", "points", "funded"], rows)
