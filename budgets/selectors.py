"""Reads for participatory budgets: rounds, ballots pages, turnout and results."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.template.loader import render_to_string

from .models import Ballot, Budget, Project, Round, Voter


def public_rounds() -> QuerySet[Round]:
    return Round.objects.exclude(phase=Round.Phase.DRAFT).prefetch_related("budgets__ward")


def home_rounds(request: Any) -> list[Round]:
    """Rounds residents can act on: taking ideas, voting, or with fresh results."""
    active = [Round.Phase.IDEAS, Round.Phase.VOTING, Round.Phase.RESULTS]
    return list(Round.objects.filter(phase__in=active).order_by("voting_closes_at")[:5])


def round_for_page(slug: str, *, staff: bool = False) -> Round:
    rounds = Round.objects.all() if staff else public_rounds()
    return rounds.get(slug=slug)


def ballot_projects(budget: Budget) -> list[Project]:
    return list(budget.projects.filter(status=Project.Status.ACCEPTED).order_by("reference"))


def round_budgets(round_: Round) -> list[Budget]:
    visible = Project.objects.exclude(status=Project.Status.WITHDRAWN).order_by("reference")
    return list(
        round_.budgets.select_related("ward", "result").prefetch_related(
            Prefetch("projects", queryset=visible)
        )
    )


@dataclass(frozen=True)
class Turnout:
    voters: int
    by_channel: dict[str, int]
    by_ward: list[tuple[str, int]]


def turnout(round_id: int) -> Turnout:
    voters = Voter.objects.filter(round_id=round_id)
    by_channel = dict.fromkeys(Voter.Channel.values, 0)
    for row in voters.values("channel").annotate(n=Count("pk")):
        by_channel[row["channel"]] = row["n"]
    by_ward = [
        (row["ward__name"] or "", row["n"])
        for row in voters.values("ward__name").annotate(n=Count("pk")).order_by("ward__name")
    ]
    return Turnout(voters=sum(by_channel.values()), by_channel=by_channel, by_ward=by_ward)


def turnout_count(round_id: int) -> int:
    return Voter.objects.filter(round_id=round_id).count()


def turnout_snapshot(key: str) -> tuple[str, str, dict[str, Any]]:
    """The ``turnout.<round>`` stream's state: the number of voters so far."""
    count = turnout_count(int(key))
    html = render_to_string("budgets/includes/_turnout.html", {"turnout": count, "round_id": key})
    return "budget.turnout", html, {"voters": count}


@dataclass(frozen=True)
class ProjectResult:
    project: Project
    votes: int
    points: int | None
    funded: bool
    share: float
    """Votes as a share of the most votes any project got, for the bar."""


@dataclass(frozen=True)
class BudgetResult:
    budget: Budget
    rows: list[ProjectResult]
    spent: Decimal
    ballots: int
    satisfied: int
    variant: dict[str, Any]

    @property
    def spent_share(self) -> float:
        return float(self.spent / self.budget.amount) if self.budget.amount else 0.0

    @property
    def satisfied_share(self) -> float:
        return self.satisfied / self.ballots if self.ballots else 0.0

    @property
    def funding_line(self) -> int:
        """How many rows (by votes) come before the first unfunded project."""
        for i, row in enumerate(self.rows):
            if not row.funded:
                return i
        return len(self.rows)


def budget_result(budget: Budget) -> BudgetResult | None:
    result = getattr(budget, "result", None)
    if result is None or result.status != "done":
        return None
    projects = {p.reference: p for p in budget.projects.all()}
    points = result.variant.get("points")
    most = max(result.votes.values(), default=0) or 1
    rows = [
        ProjectResult(
            project=projects[ref],
            votes=votes,
            points=points.get(ref, 0) if points is not None else None,
            funded=ref in result.selected,
            share=votes / most,
        )
        for ref, votes in result.votes.items()
        if ref in projects
    ]
    rows.sort(key=lambda r: (not r.funded, -r.votes, r.project.reference))
    return BudgetResult(
        budget=budget,
        rows=rows,
        spent=result.spent,
        ballots=result.ballots,
        satisfied=result.satisfied,
        variant=result.variant,
    )


def anonymised_ballots(budget: Budget) -> QuerySet[Ballot]:
    """The budget's ballots as published: public id, channel and choices; nothing else."""
    return (
        Ballot.objects.filter(budget=budget)
        .order_by("public_id")
        .prefetch_related("choices__project")
    )
