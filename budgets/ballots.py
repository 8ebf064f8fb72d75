"""The ballot rules of a budget, checked the same way for every channel.

Online ballots, paper entries, the API and pabulib imports all pass through :func:`ballot_clean`,
which takes the choices as submitted, ``(project id, value)`` pairs so that a project given twice
can be told apart from one given once, and returns them as ``{project id: value}`` or raises
:class:`BallotError` listing every rule the ballot breaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from engagement.core.memo import memo

# While a round is voting, which projects are on a ballot and what they cost cannot change (the
# services refuse it), so each process keeps them for a few seconds: every ballot needs them.
RULES_CACHE_SECONDS = 5.0


@memo(seconds=RULES_CACHE_SECONDS)
def _voting_ballot_projects(budget_id: int, language: str) -> tuple[dict, dict]:
    return _load_ballot_projects(budget_id)


def _load_ballot_projects(budget_id: int) -> tuple[dict[int, Decimal], dict[int, str]]:
    from .models import Project

    rows = list(
        Project.objects.filter(budget_id=budget_id, status=Project.Status.ACCEPTED).only(
            "pk", "cost", "title", "title_cy"
        )
    )
    return {p.pk: p.cost for p in rows}, {p.pk: p.display_title for p in rows}


def _ballot_projects(budget) -> tuple[dict[int, Decimal], dict[int, str]]:
    """``({id: cost}, {id: title})`` of the budget's ballot projects, cached while voting."""
    from .models import Round

    if budget.round.phase == Round.Phase.VOTING:
        return _voting_ballot_projects(budget.pk, get_language() or "")
    return _load_ballot_projects(budget.pk)


class BallotError(ValueError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def money(amount: Decimal) -> str:
    """£1,234 or £1,234.50: whole pounds without pence."""
    amount = Decimal(amount)
    places = 0 if amount == amount.to_integral_value() else 2
    return "£" + number_format(amount, decimal_pos=places, force_grouping=True)


@dataclass(frozen=True)
class BallotRules:
    ballot_type: str
    amount: Decimal
    costs: Mapping[int, Decimal]
    """The projects on the ballot: id -> cost."""
    titles: Mapping[int, str]
    min_projects: int = 1
    max_projects: int | None = None
    min_spend_percent: int = 0
    points: int = 10
    max_points_per_project: int = 5
    rank_count: int = 3

    @classmethod
    def for_budget(cls, budget, projects: Iterable | None = None) -> BallotRules:
        """The rules of ``budget`` (a :class:`~budgets.models.Budget`) over its ballot projects."""
        if projects is None:
            costs, titles = _ballot_projects(budget)
        else:
            projects = list(projects)
            costs = {p.pk: p.cost for p in projects}
            titles = {p.pk: p.display_title for p in projects}
        return cls(
            ballot_type=budget.ballot_type,
            amount=budget.amount,
            costs=costs,
            titles=titles,
            min_projects=budget.min_projects,
            max_projects=budget.max_projects,
            min_spend_percent=budget.min_spend_percent,
            points=budget.points,
            max_points_per_project=budget.max_points_per_project,
            rank_count=budget.rank_count,
        )

    @property
    def most_projects(self) -> int | None:
        if self.ballot_type == "ranked":
            return min(self.rank_count, self.max_projects or self.rank_count)
        return self.max_projects

    @property
    def least_spend(self) -> Decimal:
        if self.ballot_type != "knapsack" or not self.min_spend_percent:
            return Decimal(0)
        return (self.amount * self.min_spend_percent / 100).quantize(Decimal("0.01"))

    def summary(self) -> str:
        """How to fill in the ballot, in one sentence."""
        most = self.most_projects
        if self.ballot_type == "cumulative":
            return _("Share out up to %(points)s points, no more than %(max)s to one project.") % {
                "points": self.points,
                "max": self.max_points_per_project,
            }
        if self.ballot_type == "ranked":
            return ngettext(
                "Put up to %(count)s project in order of preference.",
                "Put up to %(count)s projects in order of preference.",
                most or 0,
            ) % {"count": most}
        if self.ballot_type == "knapsack":
            if self.least_spend:
                return _("Choose projects that cost between %(least)s and %(most)s in total.") % {
                    "least": money(self.least_spend),
                    "most": money(self.amount),
                }
            return _("Choose projects that cost up to %(most)s in total.") % {
                "most": money(self.amount)
            }
        if most:
            return _("Choose between %(min)s and %(max)s projects.") % {
                "min": self.min_projects,
                "max": most,
            }
        return ngettext(
            "Choose at least %(min)s project.",
            "Choose at least %(min)s projects.",
            self.min_projects,
        ) % {"min": self.min_projects}

    def cost(self, choices: Mapping[int, int]) -> Decimal:
        return sum((self.costs[pid] for pid in choices if pid in self.costs), Decimal(0))


def ballot_clean(rules: BallotRules, submitted: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Check ``submitted`` against ``rules``; the choices as ``{project id: value}``.

    Values are 1 for approval and knapsack ballots, points for points ballots and the rank
    (1 = first) for ranked ballots. Raises :class:`BallotError` with every problem found.
    """
    errors: list[str] = []
    choices: dict[int, int] = {}
    for pid, value in submitted:
        if pid not in rules.costs:
            errors.append(_("A project on your ballot is not in this budget's vote."))
            continue
        if pid in choices:
            errors.append(_("“%(title)s” is on your ballot twice.") % {"title": rules.titles[pid]})
            continue
        choices[pid] = value
    if errors:
        raise BallotError(list(dict.fromkeys(errors)))

    kind = rules.ballot_type
    if kind == "cumulative":
        choices = {pid: value for pid, value in choices.items() if value}
        for pid, value in choices.items():
            if value < 0:
                errors.append(_("Points cannot be negative."))
            elif value > rules.max_points_per_project:
                errors.append(
                    _("Give “%(title)s” no more than %(max)s points.")
                    % {"title": rules.titles[pid], "max": rules.max_points_per_project}
                )
        given = sum(choices.values())
        if given > rules.points:
            errors.append(
                _("You have %(points)s points to share but gave %(given)s.")
                % {"points": rules.points, "given": given}
            )
    elif kind == "ranked":
        ranks = sorted(choices.values())
        if len(set(ranks)) != len(ranks):
            errors.append(_("Give each project a different place in your order."))
        elif ranks != list(range(1, len(ranks) + 1)):
            errors.append(_("Number your choices 1, 2, 3 and so on without gaps."))
    elif any(value != 1 for value in choices.values()):
        errors.append(_("Tick each project you support once."))

    count = len(choices)
    most = rules.most_projects
    if count < rules.min_projects:
        errors.append(
            ngettext(
                "Choose at least %(min)s project.",
                "Choose at least %(min)s projects.",
                rules.min_projects,
            )
            % {"min": rules.min_projects}
        )
    if most is not None and count > most:
        errors.append(
            ngettext(
                "Choose no more than %(max)s project.",
                "Choose no more than %(max)s projects.",
                most,
            )
            % {"max": most}
        )
    if kind == "knapsack":
        cost = rules.cost(choices)
        if cost > rules.amount:
            errors.append(
                _("Your choices cost %(cost)s, more than the budget of %(amount)s.")
                % {"cost": money(cost), "amount": money(rules.amount)}
            )
        elif cost < rules.least_spend:
            errors.append(
                _("Your choices cost %(cost)s: spend at least %(least)s.")
                % {"cost": money(cost), "least": money(rules.least_spend)}
            )
    if errors:
        raise BallotError(errors)
    return choices
