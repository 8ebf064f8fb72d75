"""A fast engine for the Method of Equal Shares whose outcomes are exactly those of rational MES.

A city-scale profile (80,000 voters, most ballots distinct) takes about 10 s per MES run in plain
:class:`fractions.Fraction` arithmetic, and Add1 completion runs MES dozens of times. This engine
does the bookkeeping per voter group in numpy floats and takes every *decision* exactly:

* A voter's budget is always either exactly 0 (they once paid all they had: "spent") or exactly
  ``start - sum(q_j)`` over the bought projects ``j`` they approve, where ``q_j`` is the exact
  price per voter of ``j`` (a :class:`Fraction`, computed once per bought project). The float
  budgets approximate these with a rounding error below a bound ``E`` that is tracked as the run
  goes (``2 u start`` per step, ``u`` the unit roundoff).
* Every comparison MES makes (is a project affordable; which supporters pay all they have; which
  project has the lowest price per unit of utility, and ties) is made in floats only when its
  margin exceeds a rigorous bound of the rounding error of both sides; otherwise it is made in
  exact arithmetic. Exact sums over many voters need no per-voter fractions:
  ``sum(w * budget) = start * sum(w) - sum_j q_j * C_j``, ``C_j`` the (integer) weight of the
  voters in the sum who approve bought project ``j``.

So the selected projects, their order and the exact prices are those of the rational definition;
floats only decide how much work it takes to get there. ``tests/budgets/test_equal_shares.py``
checks this against the straightforward rational implementation on thousands of random profiles
built to be full of ties.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from typing import Any

import numpy as np

UNIT = 2.0**-53
"""The unit roundoff of float64."""


def _gamma(n: int) -> float:
    """A bound on the relative error of a float sum (or dot product) of ``n`` non-negative terms,
    with a safety factor of 2."""
    return 2.0 * (n + 2) * UNIT


@dataclass
class _Price:
    """A project's price at one step: ``q`` (per voter) and ``rho = q / cost`` in floats with
    error bounds, and the exact ``q`` once it is known."""

    project: int
    q: float
    q_err: float
    rho: float
    rho_err: float
    exact: Fraction | None = None
    payers_all: np.ndarray | None = None
    """Supporter groups (spent or not) that pay all they have; ``None`` until known exactly."""

    @property
    def low(self) -> float:
        return self.rho - self.rho_err

    @property
    def high(self) -> float:
        return self.rho + self.rho_err


class EqualShares:
    """Precomputed structure for repeated MES runs on one profile (Add1 runs many).

    ``costs`` (positive), ``keys`` (tie-break: among equal prices the smallest key wins) are per
    project; ``groups`` are the distinct ballots as (project indices, number of voters).
    """

    def __init__(
        self,
        costs: Sequence[Fraction],
        keys: Sequence[Any],
        groups: Sequence[tuple[Sequence[int], int]],
    ) -> None:
        self.cost = [Fraction(c) for c in costs]
        self.cost_f = [float(c) for c in self.cost]
        self.key = list(keys)
        count = len(self.cost)
        groups = [group for group in groups if group[0]]
        self.group_projects = [projects for projects, _ in groups]
        self.weight = np.fromiter((weight for _, weight in groups), np.int64, len(groups))
        self.weight_f = self.weight.astype(np.float64)
        lengths = np.fromiter(map(len, self.group_projects), np.int64, len(groups))
        self.group_start = np.zeros(len(groups) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.group_start[1:])
        self.group_flat = np.fromiter(
            chain.from_iterable(self.group_projects), np.int64, int(self.group_start[-1])
        )
        owner = np.repeat(np.arange(len(groups), dtype=np.int64), lengths)
        order = np.argsort(self.group_flat, kind="stable")
        by_project = owner[order]
        bounds = np.searchsorted(self.group_flat[order], np.arange(count + 1))
        self.supporters = [by_project[bounds[p] : bounds[p + 1]] for p in range(count)]
        self.votes = [int(self.weight[s].sum()) for s in self.supporters]

    # --- one run -------------------------------------------------------------------------------

    def run(self, start: Fraction) -> list[int]:
        """One MES run where every voter starts with ``start``; project indices in order bought."""
        return _Run(self, Fraction(start)).run()


class _Run:
    """One MES run. The exact state is kept over one common denominator ``den``: the starting
    budget is ``start_num / den`` and the price of each bought project ``p`` is
    ``num[p] / den``, so an exact sum over many voters is integer arithmetic."""

    def __init__(self, engine: EqualShares, start: Fraction) -> None:
        self.e = engine
        self.start = start
        self.start_f = float(start)
        groups = len(engine.group_projects)
        self.budget = np.full(groups, self.start_f)
        self.alive = np.ones(groups, dtype=bool)
        """False once a group has paid all it had (its budget is then exactly 0)."""
        self.err = 2.0 * UNIT * self.start_f
        """Bound on |float budget - exact budget| of every group."""
        self.bought = np.zeros(len(engine.cost), dtype=bool)
        self.den = start.denominator
        self.start_num = start.numerator
        self.num: dict[int, int] = {}
        """Bought project -> its exact price per voter times ``den``."""

    def run(self) -> list[int]:
        e = self.e
        remaining = {p for p in range(len(e.cost)) if e.votes[p] > 0}
        low = dict.fromkeys(remaining, 0.0)  # lower bounds of each project's rho
        selected: list[int] = []
        while remaining:
            best: _Price | None = None
            priced: list[_Price] = []
            for p in sorted(remaining, key=low.__getitem__):
                if best is not None and low[p] > best.high:
                    break  # budgets only fall, so rho only rises: no later project can win
                price = self._price(p)
                if price is None:
                    remaining.discard(p)  # unaffordable now, so for the rest of the run
                    continue
                low[p] = price.low
                priced.append(price)
                if best is None or price.rho < best.rho:
                    best = price
            if best is None:
                break
            contenders = [c for c in priced if c.low <= best.high]
            if len(contenders) > 1:  # too close for floats: compare exactly
                best = min(contenders, key=self._exact_rank)
            remaining.discard(best.project)
            selected.append(best.project)
            self._pay(best)
        return selected

    # --- exact quantities ------------------------------------------------------------------------

    def _exact_rank(self, price: _Price) -> tuple[Fraction, Any]:
        self._make_exact(price)
        assert price.exact is not None  # noqa: S101
        p = price.project
        return price.exact / self.e.cost[p], self.e.key[p]

    def _group_budget(self, g: int) -> Fraction:
        if not self.alive[g]:
            return Fraction(0)
        total = self.start_num
        for p in self.e.group_projects[g]:
            total -= self.num.get(p, 0)
        return Fraction(total, self.den)

    def _exact_sum(self, groups: np.ndarray) -> Fraction:
        """The exact total budget of ``groups`` (their weights times their budgets)."""
        e = self.e
        groups = groups[self.alive[groups]]
        if not len(groups):
            return Fraction(0)
        starts = e.group_start[groups]
        lengths = e.group_start[groups + 1] - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        flat = e.group_flat[offsets + np.arange(int(lengths.sum()))]
        counts = np.bincount(flat, weights=np.repeat(e.weight_f[groups], lengths))
        total = self.start_num * int(e.weight[groups].sum())
        num = self.num
        for p in np.flatnonzero(self.bought[: len(counts)] & (counts > 0)).tolist():
            total -= num[p] * int(counts[p])
        return Fraction(total, self.den)

    def _make_exact(self, price: _Price) -> None:
        """Fill in the exact ``q`` (and who pays all) of an affordable project."""
        if price.exact is not None and price.payers_all is not None:
            return
        e = self.e
        p = price.project
        support = e.supporters[p]
        if price.payers_all is not None:  # the set of who pays all is certain
            paid = self._exact_sum(price.payers_all)
            left = e.votes[p] - int(e.weight[price.payers_all].sum())
            price.exact = (e.cost[p] - paid) / left
            return
        # Narrow the search to the groups whose budget is near the float price; the rest are
        # certainly below it (they pay all) or above it (they pay the price).
        budget = self.budget[support]
        alive = self.alive[support]
        slack = 4.0 * price.q_err + 1e-9 * (abs(price.q) + self.start_f)
        margin = slack + 2.0 * self.err
        below = (~alive) | (budget < price.q - margin)
        near = alive & ~below & (budget <= price.q + margin)
        exact = self._solve(p, support[below], support[near])
        if exact is None or not (price.q - slack <= exact[0] <= price.q + slack):
            # The float estimate was off: solve with every supporter's exact budget.
            exact = self._solve(p, support[~alive], support[alive])
        assert exact is not None  # noqa: S101 - only affordable projects are priced
        price.exact, price.payers_all = exact

    def _solve(
        self, p: int, below: np.ndarray, near: np.ndarray
    ) -> tuple[Fraction, np.ndarray] | None:
        """The exact price of ``p`` and the groups that pay all they have, if every group in
        ``below`` pays all it has, the groups in ``near`` are sorted out exactly and the other
        supporters pay the price; ``None`` if that leaves no one to pay the price."""
        e = self.e
        paid = self._exact_sum(below)
        left = e.votes[p] - int(e.weight[below].sum())
        candidates = sorted((self._group_budget(int(g)), int(g)) for g in near)
        pay_all = [int(g) for g in below]
        cost = e.cost[p]
        for b, g in candidates:
            if (cost - paid) / left <= b:
                break
            paid += b * int(e.weight[g])
            left -= int(e.weight[g])
            pay_all.append(g)
        if left == 0:
            return None
        q = (cost - paid) / left
        # Groups whose budget equals q pay all they have too (they end at 0 either way).
        pay_all.extend(g for b, g in candidates if b == q)
        return q, np.array(sorted(set(pay_all)), dtype=np.int64)

    # --- floats with error bounds ---------------------------------------------------------------

    def _price(self, p: int) -> _Price | None:
        """The price of ``p`` now, or ``None`` if its supporters cannot afford it."""
        e = self.e
        support = e.supporters[p]
        budget = self.budget[support]
        cost_f = e.cost_f[p]
        votes = e.votes[p]
        equal = cost_f / votes
        err = self.err
        if budget.min() - err > equal * (1 + 4 * UNIT):
            # Everyone can pay an equal share: q = cost / votes exactly, rho = 1 / votes.
            rho = 1.0 / votes
            return _Price(
                p,
                equal,
                4 * UNIT * equal,
                rho,
                4 * UNIT * rho,
                exact=e.cost[p] / votes,
                payers_all=support[:0],
            )
        weight = e.weight_f[support]
        held = budget * weight
        total = float(held.sum())
        gamma = _gamma(len(support))
        total_err = votes * err + gamma * total + UNIT * cost_f
        if total + total_err < cost_f:
            return None
        if total - total_err < cost_f and self._exact_sum(support) < e.cost[p]:
            return None
        # q solves sum(weight * min(budget, q)) == cost. Starting from the equal share, raise q
        # to what the supporters below it leave to the others, until no one more falls below.
        q = equal
        count = 0
        while True:
            capped = budget < q
            now = int(np.count_nonzero(capped))
            if now == count and count:
                break
            count = now
            left = votes - float(weight[capped].sum())
            if left <= 0:
                break
            paid = float(held[capped].sum())
            q = (cost_f - paid) / left
            if not count:
                break
        certain = left > 0
        if certain:
            q_err = 2.0 * (
                (votes - left) * err + gamma * paid + 2 * UNIT * (cost_f + abs(q))
            ) / left + 2 * UNIT * abs(q)
            below = budget[capped]
            above = budget[~capped]
            certain = (not len(below) or below.max() + err < q - q_err) and (
                len(above) > 0 and above.min() - err > q + q_err
            )
        if certain:
            rho = q / cost_f
            rho_err = q_err / cost_f + 4 * UNIT * abs(rho)
            return _Price(p, q, q_err, rho, rho_err, None, support[capped])
        price = _Price(p, q, abs(q) * 1e-6 + err, 0.0, 0.0)
        self._make_exact(price)
        assert price.exact is not None  # noqa: S101
        price.q = float(price.exact)
        price.rho = float(price.exact / e.cost[p])
        price.q_err = 2 * UNIT * abs(price.q)
        price.rho_err = 2 * UNIT * abs(price.rho)
        return price

    def _pay(self, price: _Price) -> None:
        """Supporters of the bought project pay ``min(budget, q)``."""
        self._make_exact(price)
        q = price.exact
        assert q is not None  # noqa: S101 - _make_exact fills both in
        assert price.payers_all is not None  # noqa: S101
        p = price.project
        if self.den % q.denominator:
            factor = q.denominator // math.gcd(self.den, q.denominator)
            self.den *= factor
            self.start_num *= factor
            for j in self.num:
                self.num[j] *= factor
        self.num[p] = q.numerator * (self.den // q.denominator)
        self.bought[p] = True
        support = self.e.supporters[p]
        spent = price.payers_all
        self.alive[spent] = False
        self.budget[spent] = 0.0
        rest = support[self.alive[support]]
        self.budget[rest] -= float(q)
        self.err += 2.0 * UNIT * self.start_f
