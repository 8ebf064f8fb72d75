"""The fast MES engine against the straightforward rational one (``reference_mes``).

The fast engine keeps budgets in floats and takes every decision exactly (see
``budgets.tally.equal_shares``), so its outcomes must be *identical*: same projects, same order,
same spending, same variant (including the per-voter budget Add1 stopped at). Small random
profiles are built to be full of exact ties (equal costs, equal votes, budgets that exactly cover
a price, zero-cost projects, fractional costs and budgets); medium ones with realistic costs
exercise the float paths with many voters paying all they have.
"""

import math
import random
from fractions import Fraction

import pytest

from budgets.tally import rules
from budgets.tally.rules import Election, TieBreak, mes

from .reference_mes import ReferenceMES

F = Fraction

# Every MES variant mes() offers, as keyword arguments.
VARIANTS = [
    {},
    {"comparison": True},
    {"completion": "add1"},
    {"completion": "add1", "exhaustive_stop": False},
    {"completion": "add1", "integral_start": True},
    {"completion": "add1", "exhaustive_stop": False, "integral_start": True},
    {"completion": "add1u"},
    {"completion": "add1u", "comparison": True},
]


def tie_heavy(rng: random.Random) -> Election:
    """1-8 projects with costs from a few small values (some 0, some fractional), 1-15 voters."""
    ids = [f"p{i}" for i in range(1, rng.randint(1, 8) + 1)]
    costs = {}
    for pid in ids:
        if rng.random() < 0.85:
            costs[pid] = F(rng.choice([0, 1, 2, 3, 4, 6, 6, 6, 12]))
        else:
            costs[pid] = F(rng.randint(1, 40), rng.randint(2, 7))
    popularity = {pid: rng.random() for pid in ids}
    ballots = [
        [pid for pid in ids if rng.random() < popularity[pid]] for _ in range(rng.randint(1, 15))
    ]
    budget = F(rng.randint(0, 40), rng.choice([1, 1, 1, 2, 3]))
    return Election(costs, budget, ballots)


def realistic(rng: random.Random) -> Election:
    """10-25 projects, log-uniform costs, 150-900 voters with 1-6 approvals, skewed popularity."""
    ids = [str(i) for i in range(1, rng.randint(10, 25) + 1)]
    costs = {pid: F(round(math.exp(rng.uniform(math.log(1e3), math.log(1e5))))) for pid in ids}
    budget = F(round(sum(costs.values()) * rng.uniform(0.2, 0.5)))
    weights = [1 / (rank + 1) for rank in range(len(ids))]
    ballots = []
    for _ in range(rng.randint(150, 900)):
        k = rng.randint(1, min(6, len(ids)))
        ballots.append(set(rng.choices(ids, weights, k=k)))
    return Election(costs, budget, ballots)


def both(election: Election, tie_break: TieBreak, **options) -> tuple:
    fast = mes(election, tie_break=tie_break, **options)
    saved = rules._MES
    rules._MES = ReferenceMES
    try:
        reference = mes(election, tie_break=tie_break, **options)
    finally:
        rules._MES = saved
    return fast, reference


def tie_break_for(rng: random.Random) -> TieBreak:
    return TieBreak() if rng.random() < 0.5 else TieBreak("cost-votes-lot", seed=rng.randint(0, 9))


@pytest.mark.parametrize("chunk", range(8))
def test_tie_heavy_profiles_every_variant(chunk):
    rng = random.Random(1000 + chunk)
    for i in range(60):
        election = tie_heavy(rng)
        tie_break = tie_break_for(rng)
        for options in VARIANTS:
            fast, reference = both(election, tie_break, **options)
            assert fast == reference, (chunk, i, options, election.costs, election.groups)


@pytest.mark.parametrize("seed", range(6))
def test_realistic_profiles(seed):
    rng = random.Random(seed)
    election = realistic(rng)
    tie_break = tie_break_for(rng)
    for options in ({}, {"completion": "add1"}, {"completion": "add1", "integral_start": True}):
        fast, reference = both(election, tie_break, **options)
        assert fast == reference, (seed, options)


@pytest.mark.parametrize("seed", range(6))
def test_single_runs_at_many_budgets(seed):
    """Runs well below, at and above the budget per voter, where voters pay all they have."""
    rng = random.Random(100 + seed)
    election = realistic(rng) if seed % 2 else tie_heavy(rng)
    fast = rules._MES(election, TieBreak())
    reference = ReferenceMES(election, TieBreak())
    share = election.budget / max(election.voters, 1)
    for start in {share * F(k, 4) for k in range(1, 13)} | {F(k) for k in range(0, 8)}:
        assert fast.run(start) == reference.run(start), (seed, start)


def test_a_voter_budget_that_exactly_covers_the_price():
    # 3 voters with 4 each; a (6) by v1 v2 costs 3 each; then b (5) by v1 v3: v1 has 1, so v3
    # pays 4 (everything) and v1 pays 1 (everything): both end at exactly 0.
    e = Election({"a": F(6), "b": F(5)}, F(12), [{"a", "b"}, {"a"}, {"b"}])
    assert mes(e).selected == ("a", "b")
    assert rules._MES(e, TieBreak()).run(F(4)) == ["a", "b"]
    assert ReferenceMES(e, TieBreak()).run(F(4)) == ["a", "b"]
