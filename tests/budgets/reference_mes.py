"""The straightforward rational implementation of the Method of Equal Shares, kept as the
reference the fast engine (:mod:`budgets.tally.equal_shares`) is checked against.

This is the engine ``budgets.tally.rules`` used before the fast one (every budget a
:class:`~fractions.Fraction`, voters grouped by budget level); it has the same interface as
``rules._MES``, so ``rules.mes`` runs on it when ``rules._MES`` is replaced by
:class:`ReferenceMES`. It takes about 10 s per run on 80,000 distinct ballots.
"""

from __future__ import annotations

from fractions import Fraction

from budgets.tally.rules import Election, TieBreak


class ReferenceMES:
    """Precomputed structure for repeated MES runs on one election (Add1 runs hundreds)."""

    def __init__(self, election: Election, tie_break: TieBreak) -> None:
        self.election = election
        keys = tie_break.keys(election)
        # Projects MES can ever buy: positive cost and at least one supporter (as pabutools).
        self.eligible = [
            pid for pid in election.costs if election.costs[pid] > 0 and election.votes[pid] > 0
        ]
        index = {pid: i for i, pid in enumerate(self.eligible)}
        self.cost = [election.costs[pid] for pid in self.eligible]
        self.votes = [election.votes[pid] for pid in self.eligible]
        self.key = [keys[pid] for pid in self.eligible]
        self.group_weight: list[int] = []
        self.group_projects: list[tuple[int, ...]] = []
        self.supporters: list[list[int]] = [[] for _ in self.eligible]
        for approved, weight in election.groups.items():
            projects = tuple(index[pid] for pid in approved if pid in index)
            if not projects:
                continue
            g = len(self.group_weight)
            self.group_weight.append(weight)
            self.group_projects.append(projects)
            for p in projects:
                self.supporters[p].append(g)

    def run(self, start: Fraction) -> list[str]:
        """One MES run where every voter starts with ``start``; the ids in selection order."""
        # Budget levels are numbered (hashing Fractions is slow): level id -> budget. Groups that
        # held the same level and paid for the same project move to the same new level.
        budgets = [start]
        level_of = [0] * len(self.group_weight)
        # Per project: level id -> total weight of its supporters at that level.
        levels: list[dict[int, int] | None] = [{0: v} for v in self.votes]
        bound: list[Fraction] = [Fraction(0)] * len(self.cost)  # lower bound of each rho
        remaining = set(range(len(self.cost)))
        selected: list[str] = []
        while remaining:
            best: Fraction | None = None
            best_q = Fraction(0)
            winner = -1
            for p in sorted(remaining, key=bound.__getitem__):
                if best is not None and bound[p] > best:
                    break  # budgets only fall, so rho only rises: no later project can win
                q = self._price(p, levels[p], budgets)
                if q is None:
                    remaining.discard(p)  # unaffordable now, so for the rest of the run
                    levels[p] = None
                    continue
                rho = q / self.cost[p]
                bound[p] = rho
                if best is None or rho < best or (rho == best and self.key[p] < self.key[winner]):
                    best, best_q, winner = rho, q, p
            if winner < 0:
                break
            remaining.discard(winner)
            levels[winner] = None
            selected.append(self.eligible[winner])
            self._pay(winner, best_q, budgets, level_of, levels)
        return selected

    def _price(
        self, p: int, level: dict[int, int] | None, budgets: list[Fraction]
    ) -> Fraction | None:
        """The smallest cap ``q`` with sum(weight * min(budget, q)) == cost, or None."""
        assert level is not None  # noqa: S101 - removed projects are never priced
        cost = self.cost[p]
        items = sorted((budgets[i], w) for i, w in level.items())
        if sum(b * w for b, w in items) < cost:
            return None
        paid = Fraction(0)
        weight_left = self.votes[p]
        for b, w in items:
            q = (cost - paid) / weight_left
            if q <= b:
                return q
            paid += b * w
            weight_left -= w
        return None  # unreachable: the total covers the cost

    def _pay(
        self,
        p: int,
        q: Fraction,
        budgets: list[Fraction],
        level_of: list[int],
        levels: list[dict[int, int] | None],
    ) -> None:
        """Supporters of ``p`` pay ``min(budget, q)``; move their weight to the new levels."""
        after: dict[int, int] = {}
        for g in self.supporters[p]:
            old = level_of[g]
            new = after.get(old)
            if new is None:
                new = after[old] = len(budgets)
                budgets.append(budgets[old] - min(budgets[old], q))
            level_of[g] = new
            w = self.group_weight[g]
            for d in self.group_projects[g]:
                level = levels[d]
                if level is None:
                    continue
                left = level[old] - w
                if left:
                    level[old] = left
                else:
                    del level[old]
                level[new] = level.get(new, 0) + w
