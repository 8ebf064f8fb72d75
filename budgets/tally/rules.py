"""Tally rules for participatory budgets, in exact rational arithmetic.

Every rule takes an :class:`Election` (projects with costs, a budget, approval ballots) and returns
an :class:`Outcome`: the selected project ids *in selection order*, the exact amount spent and the
variant (every option in force), so a published result names exactly how it was counted.

Definitions follow pabutools 1.2.3 (the reference implementation the outcomes are checked against)
and equalshares.net:

* ``greedy``: projects by approval count, most first; a project that no longer fits is skipped
  (CONSUL). ``greedy-no-skip`` stops at the first project that does not fit. Under cost utilities
  "utilitarian greedy" (welfare per unit of cost) is the same ordering, so it is this rule too.
* ``mes``: the Method of Equal Shares with cost utilities (a voter's utility for a project they
  approve is its cost). Each voter starts with ``budget / n``; repeatedly, the project whose cost
  can be shared by its supporters with the smallest price per unit of utility
  ``rho = q / cost`` (``q`` the most any supporter pays; supporters with less pay all they have)
  is bought, until no project is affordable. Completions: ``add1`` raises every voter's starting
  budget by 1 currency unit and re-runs (see :func:`mes`), ``add1u`` then fills the rest of the
  real budget greedily, and ``comparison`` finally compares the result with greedy.
* ``phragmen``: sequential Phragmén with costs. Voters earn money at a rate of 1; the first
  project whose supporters together can pay its cost is bought and they spend all they have. It
  stops as soon as the next project to be bought would exceed the budget (as pabutools does).

Ties are broken by a :class:`TieBreak`, fixed before counting.

Ballots from cumulative, ordinal and choose-1 files are counted as approval of every project the
voter listed (points and ranks are ignored), as pabutools does for these rules.

Voters with identical ballots are merged into one weighted voter; the outcome is identical. MES
runs on :mod:`budgets.tally.equal_shares`, which keeps voters' budgets in floats but takes every
decision exactly (a comparison too close for its rounding-error bound is redone in rationals), so
its outcomes are those of the rational definition; ``tests/budgets/reference_mes.py`` keeps the
straightforward rational engine it is checked against.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .equal_shares import EqualShares

RULES = ("greedy", "greedy-no-skip", "mes", "phragmen")
COMPLETIONS = ("none", "add1", "add1u")
TIE_BREAKS = ("name", "cost-votes-lot")


class TallyError(ValueError):
    """A profile or an option combination the rules cannot count."""


@dataclass(frozen=True)
class TieBreak:
    """How tied projects are ordered.

    ``name``: by project id compared as strings (pabutools' lexicographic tie-breaking, so ``"10"``
    comes before ``"9"``). ``cost-votes-lot``: lower cost first, then more votes, then the
    position in a lot drawn before counting: the ids sorted as strings and shuffled with
    ``random.Random(seed)`` (the seed is published with the result so anyone can redraw the
    same lot).
    """

    kind: str = "name"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in TIE_BREAKS:
            expected = " or ".join(TIE_BREAKS)
            raise TallyError(f"unknown tie-break {self.kind!r} (expected {expected})")

    def lot(self, project_ids: Iterable[str]) -> list[str]:
        """The lot: the project ids in the order drawn."""
        order = sorted(project_ids)
        # Not for security: a seeded, reproducible draw is the point.
        random.Random(self.seed).shuffle(order)  # noqa: S311
        return order

    def keys(self, election: Election) -> dict[str, tuple[Any, ...]]:
        """A sort key per project: among tied projects the smallest key wins."""
        if self.kind == "name":
            return {pid: (pid,) for pid in election.costs}
        position = {pid: i for i, pid in enumerate(self.lot(election.costs))}
        votes = election.votes
        return {pid: (cost, -votes[pid], position[pid]) for pid, cost in election.costs.items()}

    def variant(self) -> dict[str, Any]:
        if self.kind == "name":
            return {"tie_break": "name"}
        return {"tie_break": self.kind, "seed": self.seed}


@dataclass
class Election:
    """Projects (id -> cost, in the file's order), the budget and approval ballots.

    ``ballots`` are grouped on construction: ``groups`` maps each distinct approval set to the
    number of voters who cast it.
    """

    costs: Mapping[str, Fraction]
    budget: Fraction
    ballots: Iterable[Iterable[str]]
    groups: dict[frozenset[str], int] = field(init=False)
    votes: dict[str, int] = field(init=False)
    voters: int = field(init=False)

    def __post_init__(self) -> None:
        self.costs = {pid: Fraction(cost) for pid, cost in self.costs.items()}
        self.budget = Fraction(self.budget)
        if self.budget < 0:
            raise TallyError("the budget is negative")
        for pid, cost in self.costs.items():
            if cost < 0:
                raise TallyError(f"project {pid!r} has a negative cost")
        self.groups = dict(Counter(frozenset(ballot) for ballot in self.ballots))
        self.ballots = ()  # grouped: do not keep a second copy of a city's ballots
        self.votes = dict.fromkeys(self.costs, 0)
        self.voters = 0
        for approved, weight in self.groups.items():
            self.voters += weight
            for pid in approved:
                if pid not in self.votes:
                    raise TallyError(f"a ballot approves unknown project {pid!r}")
                self.votes[pid] += weight

    def cost_of(self, selected: Iterable[str]) -> Fraction:
        return sum((self.costs[pid] for pid in selected), Fraction(0))

    def is_exhaustive(self, selected: Sequence[str]) -> bool:
        """No unselected project fits in what is left of the budget."""
        left = self.budget - self.cost_of(selected)
        chosen = set(selected)
        return all(cost > left for pid, cost in self.costs.items() if pid not in chosen)


@dataclass(frozen=True)
class Outcome:
    selected: tuple[str, ...]
    """In selection order."""
    spent: Fraction
    variant: dict[str, Any]


# --- greedy -----------------------------------------------------------------------------------


def _greedy_fill(
    election: Election,
    selected: list[str],
    tie_break: TieBreak,
    *,
    skip: bool = True,
) -> list[str]:
    """Add projects by approval count (most first) to ``selected`` while they fit the budget."""
    keys = tie_break.keys(election)
    chosen = set(selected)
    left = election.budget - election.cost_of(selected)
    order = sorted(
        (pid for pid in election.costs if pid not in chosen),
        key=lambda pid: (-election.votes[pid], keys[pid]),
    )
    result = list(selected)
    for pid in order:
        cost = election.costs[pid]
        if cost <= left:
            result.append(pid)
            left -= cost
        elif not skip:
            break
    return result


def greedy(election: Election, *, skip: bool = True, tie_break: TieBreak | None = None) -> Outcome:
    """Greedy by approval count; ``skip=False`` stops at the first project that does not fit."""
    tie_break = tie_break or TieBreak()
    selected = _greedy_fill(election, [], tie_break, skip=skip)
    rule = "greedy" if skip else "greedy-no-skip"
    return Outcome(
        tuple(selected), election.cost_of(selected), {"rule": rule, **tie_break.variant()}
    )


# --- the Method of Equal Shares ----------------------------------------------------------------


class _MES:
    """An election prepared for repeated MES runs (Add1 runs dozens): the projects MES can buy
    and the distinct ballots as indices, run by :class:`~budgets.tally.equal_shares.EqualShares`
    (float bookkeeping, every decision exact)."""

    def __init__(self, election: Election, tie_break: TieBreak) -> None:
        self.election = election
        keys = tie_break.keys(election)
        # Projects MES can ever buy: positive cost and at least one supporter (as pabutools).
        self.eligible = [
            pid for pid in election.costs if election.costs[pid] > 0 and election.votes[pid] > 0
        ]
        index = {pid: i for i, pid in enumerate(self.eligible)}
        if len(index) == len(election.costs):
            groups = [(list(map(index.__getitem__, a)), w) for a, w in election.groups.items()]
        else:
            groups = [
                ([index[pid] for pid in approved if pid in index], weight)
                for approved, weight in election.groups.items()
            ]
        self.engine = EqualShares(
            [election.costs[pid] for pid in self.eligible],
            [keys[pid] for pid in self.eligible],
            groups,
        )

    def run(self, start: Fraction) -> list[str]:
        """One MES run where every voter starts with ``start``; the ids in selection order."""
        return [self.eligible[p] for p in self.engine.run(start)]


def _mes_add1(
    engine: _MES, *, exhaustive_stop: bool, integral_start: bool
) -> tuple[list[str], Fraction]:
    """Add1: raise each voter's starting budget by 1 until the outcome is exhaustive.

    As pabutools' ``exhaustion_by_budget_increase`` with a step of ``n`` (one unit per voter):
    each run's outcome is checked against the real budget; an outcome that no longer fits returns
    the previous one; with ``exhaustive_stop`` the first exhaustive outcome is returned, without it
    the raising continues until the outcome no longer fits (or every project MES can buy is bought,
    after which more money cannot change the set). Returns the outcome and its per-voter budget
    (the last one tried that gave it).
    """
    election = engine.election
    n = election.voters
    start = Fraction(election.budget, n)
    if integral_start:
        start = Fraction(math.floor(start))
    bound = election.budget * (n + 1) / n  # pabutools' default bound, per voter
    previous: list[str] = []
    previous_start = start
    everything = len(engine.eligible)
    while start <= bound:
        outcome = engine.run(start)
        if election.cost_of(outcome) > election.budget:
            return previous, previous_start
        if exhaustive_stop and election.is_exhaustive(outcome):
            return outcome, start
        previous, previous_start = outcome, start
        if len(outcome) == everything:
            break
        start += 1
    return previous, previous_start


def _compare_with_greedy(
    election: Election, selected: list[str], tie_break: TieBreak
) -> tuple[list[str], dict[str, int]]:
    """The comparison step (Wieliczka, Świecie; equalshares.net "comparison with greedy").

    Each voter compares the two outcomes by the money spent on projects they approve; if strictly
    more voters prefer the greedy outcome than prefer the MES outcome, greedy is used.
    """
    greedy_selected = _greedy_fill(election, [], tie_break)
    mes_set, greedy_set = set(selected), set(greedy_selected)
    prefer_mes = prefer_greedy = 0
    for approved, weight in election.groups.items():
        mes_spend = election.cost_of(approved & mes_set)
        greedy_spend = election.cost_of(approved & greedy_set)
        if mes_spend > greedy_spend:
            prefer_mes += weight
        elif greedy_spend > mes_spend:
            prefer_greedy += weight
    tally = {"prefer_mes": prefer_mes, "prefer_greedy": prefer_greedy}
    if prefer_greedy > prefer_mes:
        return greedy_selected, tally
    return selected, tally


def mes(
    election: Election,
    *,
    completion: str = "none",
    exhaustive_stop: bool = True,
    integral_start: bool = False,
    comparison: bool = False,
    tie_break: TieBreak | None = None,
) -> Outcome:
    """The Method of Equal Shares with cost utilities.

    ``completion``: ``none`` (one run, each voter with ``budget / n``), ``add1`` (see
    :func:`_mes_add1`; ``exhaustive_stop`` and ``integral_start``, which starts from
    ``floor(budget / n)``, apply) or ``add1u`` (add1, then greedy by votes over what is left of the
    real budget). ``comparison`` then applies the comparison with greedy.
    """
    tie_break = tie_break or TieBreak()
    if completion not in COMPLETIONS:
        raise TallyError(f"unknown completion {completion!r} (expected {', '.join(COMPLETIONS)})")
    if completion == "none" and integral_start:
        raise TallyError("an integral starting budget only applies with Add1 completion")
    if completion == "none" and not exhaustive_stop:
        raise TallyError("the exhaustive stop only applies with Add1 completion")
    engine = _MES(election, tie_break)
    variant: dict[str, Any] = {"rule": "mes", "utilities": "cost", "completion": completion}
    if election.voters == 0:
        selected: list[str] = []
        start = Fraction(0)
    elif completion == "none":
        start = Fraction(election.budget, election.voters)
        selected = engine.run(start)
    else:
        selected, start = _mes_add1(
            engine, exhaustive_stop=exhaustive_stop, integral_start=integral_start
        )
        if completion == "add1u":
            selected = _greedy_fill(election, selected, tie_break)
    if completion != "none":
        variant |= {"exhaustive_stop": exhaustive_stop, "integral_start": integral_start}
    variant["voter_budget"] = str(start)
    variant["comparison"] = comparison
    if comparison:
        selected, tally = _compare_with_greedy(election, selected, tie_break)
        variant["comparison_tally"] = tally
    variant |= tie_break.variant()
    return Outcome(tuple(selected), election.cost_of(selected), variant)


# --- sequential Phragmén -----------------------------------------------------------------------


def phragmen(election: Election, *, tie_break: TieBreak | None = None) -> Outcome:
    """Sequential Phragmén with costs (pabutools' ``sequential_phragmen``).

    A project's purchase time is ``(cost + sum of its supporters' loads) / supporters``; the
    earliest is bought and its supporters' loads become that time. Projects dearer than the budget
    are never considered; the rule stops as soon as a project tied for the earliest time does not
    fit. Projects nobody approves can only come last (at an infinite time), as in pabutools.
    """
    tie_break = tie_break or TieBreak()
    keys = tie_break.keys(election)
    group_list = list(election.groups.items())
    load = [Fraction(0)] * len(group_list)
    # Per project: the total load of its supporters (weight times load), kept up to date.
    total_load = dict.fromkeys(election.costs, Fraction(0))
    supporters: dict[str, list[int]] = {pid: [] for pid in election.costs}
    for g, (approved, _) in enumerate(group_list):
        for pid in approved:
            supporters[pid].append(g)
    remaining = {pid for pid, cost in election.costs.items() if cost <= election.budget}
    spent = Fraction(0)
    selected: list[str] = []
    while remaining:
        times: dict[str, Fraction | None] = {
            pid: (total_load[pid] + election.costs[pid]) / election.votes[pid]
            if election.votes[pid]
            else None  # nobody approves it: infinitely late
            for pid in remaining
        }
        finite = [t for t in times.values() if t is not None]
        earliest = min(finite) if finite else None
        tied = [pid for pid, t in times.items() if t == earliest]
        if any(spent + election.costs[pid] > election.budget for pid in tied):
            break
        winner = min(tied, key=keys.__getitem__)
        selected.append(winner)
        spent += election.costs[winner]
        remaining.discard(winner)
        if earliest is None:
            continue
        for g in supporters[winner]:
            approved, weight = group_list[g]
            change = (earliest - load[g]) * weight
            load[g] = earliest
            for pid in approved:
                total_load[pid] += change
    return Outcome(tuple(selected), spent, {"rule": "phragmen", **tie_break.variant()})


# --- one entry point ---------------------------------------------------------------------------


def tally(
    election: Election,
    rule: str,
    *,
    completion: str | None = None,
    exhaustive_stop: bool | None = None,
    integral_start: bool | None = None,
    comparison: bool = False,
    tie_break: TieBreak | None = None,
) -> Outcome:
    """Count ``election`` with ``rule``; MES options given to another rule are an error."""
    if rule not in RULES:
        raise TallyError(f"unknown rule {rule!r} (expected {', '.join(RULES)})")
    if rule == "mes":
        return mes(
            election,
            completion=completion or "none",
            exhaustive_stop=True if exhaustive_stop is None else exhaustive_stop,
            integral_start=bool(integral_start),
            comparison=comparison,
            tie_break=tie_break,
        )
    given = [
        name
        for name, value in (
            ("completion", completion),
            ("exhaustive stop", exhaustive_stop),
            ("integral start", integral_start),
            ("comparison", comparison or None),
        )
        if value is not None
    ]
    if given:
        raise TallyError(f"{', '.join(given)} only applies to the mes rule, not {rule}")
    if rule == "phragmen":
        return phragmen(election, tie_break=tie_break)
    return greedy(election, skip=rule == "greedy", tie_break=tie_break)
