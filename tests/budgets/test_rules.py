"""The tally rules: hand-worked toys with exact outcomes, a naive cross-check of MES, and the
official outcomes of real elections published on pabulib.org."""

import random
from fractions import Fraction

import pytest

from budgets.tally.pabulib import election_from_pabulib
from budgets.tally.rules import (
    Election,
    Outcome,
    TallyError,
    TieBreak,
    greedy,
    mes,
    phragmen,
    tally,
)

from .conftest import official

F = Fraction


def election(costs: dict[str, int], budget: int, *ballots: str) -> Election:
    """``ballots`` as strings of one-letter project ids: ``"ab"`` approves a and b."""
    return Election({pid: F(cost) for pid, cost in costs.items()}, F(budget), [*map(set, ballots)])


# --- greedy ------------------------------------------------------------------------------------


def test_greedy_skips_what_no_longer_fits_and_no_skip_stops(data_file):
    # Kraków 2018, Wzgórza Krzesławickie: votes 3:364, 8:350, 1:341, 6:335, 4:243, 2:241, 7:235,
    # 5:156; budget 128000. 3+8+1+6+4 cost 99800; 2 (40000) no longer fits; 7 and 5 still do.
    e = election_from_pabulib(data_file("poland_krakow_2018_wzgorza-krzeslawickie.pb"))

    assert greedy(e) == Outcome(
        ("3", "8", "1", "6", "4", "7", "5"), F(116700), {"rule": "greedy", "tie_break": "name"}
    )
    assert greedy(e, skip=False) == Outcome(
        ("3", "8", "1", "6", "4"), F(99800), {"rule": "greedy-no-skip", "tie_break": "name"}
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Budgets and costs from the files; these carry no `selected` column, so the expected
        # outcomes are worked by hand from the votes column.
        ("poland_zabrze_2020_konczyce.pb", ("P0064", "P0065")),  # 9996 + 140000 <= 150000
        ("poland_gdansk_2020_rudniki.pb", ("1",)),  # 1 takes the whole 149000
        ("netherlands_amsterdam_643.pb", ("44251",)),  # 5000 of 5720: neither 2000 fits
        ("us_stanford_2022_jersey_city_ward_b_knapsack.pb", ("2931",)),  # 50000 of 50000
        ("us_stanford_2021_chicago_35th_ward_rankings.pb", ("1800",)),  # 800000 of 1000000
    ],
)
def test_greedy_on_the_small_files(data_file, name, expected):
    assert greedy(election_from_pabulib(data_file(name))).selected == expected


def test_greedy_official_mokotow_and_lodz(shared_file):
    for name in ("poland_warszawa_2023_mokotow.pb", "poland_lodz_2022_citywide.pb"):
        pb = shared_file(name)
        outcome = tally(election_from_pabulib(pb), "greedy")
        assert set(outcome.selected) == official(pb), name


# --- tie-breaking --------------------------------------------------------------------------------


def test_name_tie_break_compares_ids_as_strings():
    e = Election({"9": F(1), "10": F(1)}, F(1), [{"9"}, {"10"}])
    assert greedy(e).selected == ("10",)  # "10" < "9" as strings, as pabutools orders names


def test_cost_votes_lot_tie_break():
    e = election({"a": 5, "b": 3, "c": 3, "d": 3}, 3, "abcd", "bcd", "cd")
    # Votes a:1, b:2, c:3, d:3. c and d tie on votes and cost; the lot decides.
    lot = TieBreak("cost-votes-lot", seed=7)
    keys = lot.keys(e)
    assert keys["b"] < keys["a"]  # cheaper first
    assert keys["c"] < keys["b"]  # same cost: more votes first
    assert lot.lot(["a", "b", "c", "d"]) == lot.lot(["d", "c", "b", "a"])  # drawn from sorted ids
    first = min("cd", key=lot.lot(e.costs).index)
    assert greedy(e, tie_break=lot).selected == (first,)
    assert greedy(e, tie_break=lot).variant == {
        "rule": "greedy",
        "tie_break": "cost-votes-lot",
        "seed": 7,
    }
    draws = {tuple(TieBreak("cost-votes-lot", seed=s).lot("abcd")) for s in range(20)}
    assert len(draws) > 1  # the seed matters


def test_unknown_tie_break():
    with pytest.raises(TallyError, match="unknown tie-break 'coin'"):
        TieBreak("coin")


# --- the Method of Equal Shares ------------------------------------------------------------------


def test_mes_by_hand_with_a_partial_payment():
    # 4 voters, budget 40: 10 each. p (24) by v1 v2 v3; r (11) by v1 v4; s (9) by v4.
    # Round 1: p costs 8 each, rho 8/24 = 1/3; r 5.5 each, rho 1/2; s 9, rho 1. Buy p:
    #   v1, v2, v3 keep 2.
    # Round 2: r: v1 can give only 2, so v4 pays 9: rho 9/11 < 1 (s). Buy r: v1 0, v4 1.
    # Round 3: s needs 9, v4 has 1: nothing more. Spent 35; s (9) does not fit in 5: exhaustive.
    e = election({"p": 24, "r": 11, "s": 9}, 40, "pr", "p", "p", "rs")
    outcome = mes(e)
    assert outcome == Outcome(
        ("p", "r"),
        F(35),
        {
            "rule": "mes",
            "utilities": "cost",
            "completion": "none",
            "voter_budget": "10",
            "comparison": False,
            "tie_break": "name",
        },
    )
    assert mes(e, completion="add1").selected == ("p", "r")  # already exhaustive


def test_mes_prefers_the_dearer_project_at_equal_shares():
    # Cost utilities: a (20) and b (20) both cost each supporter 10 (rho 1/2); c (10) costs its
    # one supporter 10 (rho 1). a wins the tie by name, leaving nothing for b; then c.
    e = election({"a": 20, "b": 20, "c": 10}, 30, "ab", "ab", "c")
    assert mes(e).selected == ("a", "c")


def test_add1_raises_the_voter_budget_until_exhaustive():
    # 2 voters, budget 10. a (6) by v1, b (4) by v2. At 5 each only b: 4 spent and a (6) would
    # still fit. At 6 each a and b tie at rho 1: a, b; spent 10, exhaustive.
    e = election({"a": 6, "b": 4}, 10, "a", "b")
    assert mes(e).selected == ("b",)
    outcome = mes(e, completion="add1")
    assert outcome.selected == ("a", "b")
    assert outcome.variant["voter_budget"] == "6"
    assert mes(e, completion="add1", exhaustive_stop=False).selected == ("a", "b")


def test_add1_returns_the_last_feasible_outcome_and_add1u_fills_greedily():
    # 2 voters, budget 10. a (6) by v1, b (6) by v2, c (4) by both.
    # 5, 6, 7 each: only c (each pays 2; then 3, 4, 5 left < 6). Not exhaustive: a fits in 6.
    # 8 each: c, then a and b (16 > 10): infeasible, so Add1 returns c (from 7 each).
    e = election({"a": 6, "b": 6, "c": 4}, 10, "ac", "bc")
    for stop in (True, False):
        outcome = mes(e, completion="add1", exhaustive_stop=stop)
        assert (outcome.selected, outcome.variant["voter_budget"]) == (("c",), "7")
    # add1u: then greedy by votes in the remaining 6: a and b tie (1 vote, 6), a by name.
    assert mes(e, completion="add1u").selected == ("c", "a")
    assert mes(e, completion="add1u").spent == F(10)


def test_integral_start():
    # 3 voters, budget 10, a (10) approved by all. From 10/3 each a is bought at once; from
    # floor(10/3) = 3 each (9 in all) it is not, and 4 each buys it.
    e = election({"a": 10}, 10, "a", "a", "a")
    plain = mes(e, completion="add1")
    integral = mes(e, completion="add1", integral_start=True)
    assert (plain.selected, plain.variant["voter_budget"]) == (("a",), "10/3")
    assert (integral.selected, integral.variant["voter_budget"]) == (("a",), "4")
    assert integral.variant["integral_start"] is True


def test_comparison_takes_greedy_when_more_voters_prefer_it():
    # 3 voters, budget 10 (10/3 each). a (6) by v1 v2; b (4) by v3. MES buys a (3 each) but v3
    # cannot pay 4 alone: (a). Greedy: a, then b fits: (a, b). v3 prefers greedy, v1 and v2 are
    # indifferent: 1 to 0 for greedy.
    e = election({"a": 6, "b": 4}, 10, "a", "a", "b")
    assert mes(e).selected == ("a",)
    outcome = mes(e, comparison=True)
    assert outcome.selected == ("a", "b")
    assert outcome.variant["comparison_tally"] == {"prefer_mes": 0, "prefer_greedy": 1}


def test_mes_option_errors():
    e = election({"a": 1}, 1, "a")
    with pytest.raises(TallyError, match="unknown completion 'add2'"):
        mes(e, completion="add2")
    with pytest.raises(TallyError, match="integral starting budget only applies with Add1"):
        mes(e, integral_start=True)
    with pytest.raises(TallyError, match="exhaustive stop only applies with Add1"):
        mes(e, exhaustive_stop=False)
    with pytest.raises(TallyError, match="completion only applies to the mes rule, not greedy"):
        tally(e, "greedy", completion="add1")
    with pytest.raises(TallyError, match="comparison only applies to the mes rule, not phragmen"):
        tally(e, "phragmen", comparison=True)
    with pytest.raises(TallyError, match="unknown rule 'borda'"):
        tally(e, "borda")


def naive_mes(e: Election, start: Fraction) -> tuple[str, ...]:
    """MES as defined, one voter at a time, no grouping and no lazy evaluation."""
    voters = [set(approved) for approved, weight in e.groups.items() for _ in range(weight)]
    money = [start] * len(voters)
    left = [pid for pid in sorted(e.costs) if e.costs[pid] > 0 and e.votes[pid] > 0]
    chosen: list[str] = []
    while True:
        offers = []
        for pid in left:
            supporters = sorted(money[i] for i, v in enumerate(voters) if pid in v)
            cost = e.costs[pid]
            if sum(supporters) < cost:
                continue
            paid, count = F(0), len(supporters)
            for k, b in enumerate(supporters):
                q = (cost - paid) / (count - k)
                if q <= b:
                    offers.append((q / cost, pid, q))
                    break
                paid += b
        if not offers:
            return tuple(chosen)
        _, pid, q = min(offers)
        chosen.append(pid)
        left.remove(pid)
        for i, v in enumerate(voters):
            if pid in v:
                money[i] -= min(money[i], q)


@pytest.mark.parametrize("seed", range(40))
def test_mes_equals_a_naive_implementation_on_random_profiles(seed):
    rng = random.Random(seed)
    ids = "abcdefg"[: rng.randint(2, 7)]
    costs = {pid: rng.choice([1, 2, 3, 5, 8, 13]) for pid in ids}
    ballots = ["".join(p for p in ids if rng.random() < 0.4) for _ in range(rng.randint(1, 12))]
    e = election(costs, rng.randint(5, 30), *ballots)
    start = F(e.budget, e.voters)
    assert mes(e).selected == naive_mes(e, start)
    outcome = mes(e, completion="add1")
    assert outcome.selected == naive_mes(e, F(outcome.variant["voter_budget"]))


# --- sequential Phragmén -------------------------------------------------------------------------


def test_phragmen_by_hand():
    # v1 {a, b}, v2 {a}, v3 {c}; a 4, b 3, c 3.
    # a at time (0 + 4) / 2 = 2 (v1, v2 loads 2); b at (2 + 3) / 1 = 5; c at 3 / 1 = 3.
    # c at 3 (v3 load 3), then b at 5.
    e = election({"a": 4, "b": 3, "c": 3}, 10, "ab", "a", "c")
    assert phragmen(e) == Outcome(("a", "c", "b"), F(10), {"rule": "phragmen", "tie_break": "name"})
    # With 9, b (next at time 5) no longer fits and the rule stops there.
    e9 = election({"a": 4, "b": 3, "c": 3}, 9, "ab", "a", "c")
    assert phragmen(e9).selected == ("a", "c")


def test_phragmen_never_considers_projects_dearer_than_the_budget():
    e = election({"a": 11, "b": 5}, 10, "a", "a", "b")
    assert phragmen(e).selected == ("b",)


# --- official outcomes of equal-shares elections -------------------------------------------------


def test_assen_mes_add1_with_exhaustive_stop(data_file):
    pb = data_file("netherlands_assen_2024.pb")
    e = election_from_pabulib(pb)
    outcome = tally(e, "mes", completion="add1", exhaustive_stop=True)
    assert set(outcome.selected) == official(pb)
    assert outcome.spent == e.cost_of(official(pb))
    # README: adding greedy completion would wrongly fund one more project.
    filled = tally(e, "mes", completion="add1u")
    assert set(filled.selected) > official(pb)
    assert len(filled.selected) == len(official(pb)) + 1


def test_swiecie_mes_add1(data_file):
    pb = data_file("poland_swiecie_2023.pb")
    e = election_from_pabulib(pb)
    # Świecie's eligibility rule drops a project whose share of votes is below cost / (3 B).
    ineligible = {
        pid for pid, cost in e.costs.items() if F(e.votes[pid], e.voters) < cost / (3 * e.budget)
    }
    assert ineligible == {"c22"}  # 375 / 2553 < 482037 / 3210000
    # Counted with Add1 (exhaustive stop) on all projects, MES does not fund c22 anyway, so the
    # official set reproduces with or without removing it first.
    outcome = tally(e, "mes", completion="add1")
    assert set(outcome.selected) == official(pb)
    assert "c22" not in outcome.selected


def test_wieliczka_mes_add1_without_exhaustive_stop_and_comparison(data_file):
    pb = data_file("poland_wieliczka_2023_green_budget.pb")
    e = election_from_pabulib(pb)
    outcome = tally(e, "mes", completion="add1", exhaustive_stop=False, comparison=True)
    assert set(outcome.selected) == official(pb)
    assert len(outcome.selected) == 30
    assert outcome.variant["voter_budget"] == "1040052/3293"  # 151.84 + 164 zł each
    # MES wins the comparison with greedy, so the MES outcome stands.
    assert outcome.variant["comparison_tally"] == {"prefer_mes": 1576, "prefer_greedy": 1050}
    # Stopping at the first exhaustive outcome does not give the official result.
    stopped = tally(e, "mes", completion="add1", exhaustive_stop=True)
    assert set(stopped.selected) != official(pb)


def naive_phragmen(e: Election) -> tuple[str, ...]:
    """Sequential Phragmén as pabutools states it, one voter at a time."""
    voters = [set(approved) for approved, weight in e.groups.items() for _ in range(weight)]
    load = [F(0)] * len(voters)
    left = {pid for pid, cost in e.costs.items() if cost <= e.budget}
    chosen: list[str] = []
    spent = F(0)
    while left:
        times = {}
        for pid in left:
            backers = [i for i, v in enumerate(voters) if pid in v]
            times[pid] = (
                (sum(load[i] for i in backers) + e.costs[pid]) / len(backers) if backers else None
            )
        finite = [t for t in times.values() if t is not None]
        earliest = min(finite) if finite else None
        tied = sorted(pid for pid, t in times.items() if t == earliest)
        if any(spent + e.costs[pid] > e.budget for pid in tied):
            return tuple(chosen)
        chosen.append(tied[0])
        spent += e.costs[tied[0]]
        left.remove(tied[0])
        for i, v in enumerate(voters):
            if tied[0] in v:
                load[i] = earliest
    return tuple(chosen)


@pytest.mark.parametrize("seed", range(40))
def test_phragmen_equals_a_naive_implementation_on_random_profiles(seed):
    rng = random.Random(seed)
    ids = "abcdefg"[: rng.randint(2, 7)]
    costs = {pid: rng.choice([1, 2, 3, 5, 8, 13]) for pid in ids}
    ballots = ["".join(p for p in ids if rng.random() < 0.4) for _ in range(rng.randint(1, 12))]
    e = election(costs, rng.randint(5, 30), *ballots)
    assert phragmen(e).selected == naive_phragmen(e)
