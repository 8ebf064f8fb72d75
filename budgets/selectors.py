"""Reads for participatory budgets: rounds, ballots pages, turnout and results."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from engagement.realtime.streams import Render, template

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


def project_map(budgets: list[Budget], size: int = 400) -> dict[str, Any] | None:
    """An SVG map of the round's wards and its projects that have a location (None if none do).

    Drawn on the server from the wards' boundaries: no tiles, no JavaScript. The project tables
    beside it carry the same information for anyone who cannot use the map.
    """
    from engagement.places.geometry import SvgProjection
    from engagement.places.models import Ward

    located = [
        p
        for b in budgets
        for p in b.projects.all()
        if p.latitude is not None
        and p.longitude is not None
        and p.status not in (Project.Status.PROPOSED, Project.Status.WITHDRAWN)
    ]
    if not located:
        return None
    wards = Ward.objects.all()
    if all(b.ward_id for b in budgets):
        wards = wards.filter(pk__in=[b.ward_id for b in budgets])
    wards = list(wards.only("name", "boundary", "min_lon", "min_lat", "max_lon", "max_lat"))
    lons = [p.longitude for p in located] + [w.min_lon for w in wards] + [w.max_lon for w in wards]
    lats = [p.latitude for p in located] + [w.min_lat for w in wards] + [w.max_lat for w in wards]
    margin = 0.002
    projection = SvgProjection(
        (min(lons) - margin, min(lats) - margin, max(lons) + margin, max(lats) + margin), size
    )
    points = []
    for project in located:
        x, y = projection.point(project.longitude, project.latitude)
        points.append({"project": project, "x": x, "y": y})
    return {
        "width": projection.width,
        "height": projection.height,
        "wards": [{"name": w.name, "d": projection.path(w.boundary)} for w in wards],
        "points": points,
    }


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


def turnout_snapshot(key: str) -> tuple[str, Render, dict[str, Any]]:
    """The ``turnout.<round>`` stream's state: the number of voters so far."""
    count = turnout_count(int(key))
    render = template("budgets/includes/_turnout.html", {"turnout": count, "round_id": key})
    return "budget.turnout", render, {"voters": count}


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
    def funded_count(self) -> int:
        return sum(1 for row in self.rows if row.funded)

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
