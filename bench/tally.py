"""Benchmark ``tally``: the counting engine against pabutools 1.2.3 at city scale.

Two profiles: Łódź 2022 citywide from pabulib (90,494 voters, 160 projects; read from
``PABULIB_DIR``, by default ``<repo>/../shared/pabulib``) and a synthetic city (80,000 voters,
130 projects, fixed seed; see :func:`synthetic`). On each, our engine counts greedy, one MES run,
MES with Add1 completion and sequential Phragmén, each timed once on a prebuilt election (MES and
Add1 include preparing the MES engine). Then pabutools counts the same (as
``tests/budgets/test_pabutools_crosscheck.py`` maps the variants), each in a subprocess stopped
after a cap, so a case that takes hours is reported as "timed out" instead of hanging; the
pabutools clock starts once its profile is built. Selected sets are compared.

``ok``: every compared outcome identical, Łódź's greedy outcome equal to the file's ``selected``
column, and on the synthetic profile one MES run <= 0.5 s and MES with Add1 <= 5 s.

Knobs (environment): ``PABULIB_DIR``; ``TALLY_PABUTOOLS_CAP_S`` (default 600, quick 25): the cap
per pabutools count; ``TALLY_PABUTOOLS_ADD1_CAP_S`` (default: the same): the cap for Add1, which
takes pabutools hours at city scale; ``TALLY_PABUTOOLS_JOBS`` (default 2): pabutools counts run
at once, each in its own process (after all of ours, so ours run on a quiet machine).

Run a pabutools count by hand: ``python -m bench.tally --pabutools '<case JSON>' <rule>``.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LODZ = "poland_lodz_2022_citywide.pb"
RULES = ("greedy", "mes", "mes-add1", "phragmen")
TARGETS_S = {"mes": 0.5, "mes-add1": 5.0}
"""On the synthetic profile (the full one; quick checks them on its small one)."""
FULL = {"voters": 80_000, "projects": 130, "approvals": 8, "seed": 20250601, "cost_scale": 1.0}
QUICK = {"voters": 1_000, "projects": 25, "approvals": 5, "seed": 20250601, "cost_scale": 0.03}
"""Quick scales the costs down so that, with few voters, Add1 still takes few steps."""


def log(message: str) -> None:
    print(f"[tally] {message}", file=sys.stderr, flush=True)


def pabulib_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "pabulib"
    return Path(os.environ.get("PABULIB_DIR", default))


# --- the synthetic city ----------------------------------------------------------------------


def synthetic(
    voters: int, projects: int, approvals: int, seed: int, cost_scale: float = 1.0
) -> tuple[dict[str, int], int, list[list[str]]]:
    """Costs, budget and ballots of a made-up city vote, the same for the same arguments.

    Costs are log-uniform between 10,000 and 1,000,000 (rounded to 100; both bounds times
    ``cost_scale``); the budget is 30% of
    the total cost. Popularity is Zipf-like (the project ranked r is picked with weight
    ``1 / r ** 0.8``, ranks shuffled); each voter approves about ``approvals`` distinct
    projects (normal, sd 2.5, at least 1), so almost every ballot is distinct.
    """
    rng = random.Random(seed)
    ids = [str(i) for i in range(1, projects + 1)]
    low, high = math.log(1e4 * cost_scale), math.log(1e6 * cost_scale)
    costs = {pid: round(math.exp(rng.uniform(low, high)), -2) for pid in ids}
    budget = round(sum(costs.values()) * 0.3, -3)
    ranked = ids[:]
    rng.shuffle(ranked)
    cumulative = []
    total = 0.0
    for rank in range(1, projects + 1):
        total += 1 / rank**0.8
        cumulative.append(total)
    ballots = []
    for _ in range(voters):
        size = max(1, min(projects, round(rng.gauss(approvals, 2.5))))
        ballot: set[str] = set()
        while len(ballot) < size:
            ballot.add(ranked[bisect.bisect(cumulative, rng.random() * total)])
        ballots.append(sorted(ballot))
    return {pid: int(c) for pid, c in costs.items()}, int(budget), ballots


# --- our engine ------------------------------------------------------------------------------


def ours(case: dict[str, Any]) -> dict[str, Any]:
    """Load the case, then count and time every rule with our engine."""
    from budgets.tally.pabulib import election_from_pabulib, read_pabulib
    from budgets.tally.rules import Election, TieBreak, greedy, mes, phragmen

    clock = time.perf_counter()
    official: set[str] | None = None
    if case["kind"] == "file":
        pb = read_pabulib(case["path"])
        election = election_from_pabulib(pb)
        official = {pid for pid, p in pb.projects.items() if p.fields.get("selected") == "1"}
    else:
        costs, budget, ballots = synthetic(**case["profile"])
        election = Election(costs, budget, ballots)
    figures: dict[str, Any] = {
        "voters": election.voters,
        "projects": len(election.costs),
        "distinct_ballots": len(election.groups),
        "load_s": round(time.perf_counter() - clock, 3),
    }
    name = TieBreak("name")
    counts = {
        "greedy": lambda: greedy(election, tie_break=name),
        "mes": lambda: mes(election, tie_break=name),
        "mes-add1": lambda: mes(election, completion="add1", tie_break=name),
        "phragmen": lambda: phragmen(election, tie_break=name),
    }
    results: dict[str, Any] = {}
    for rule, count in counts.items():
        clock = time.perf_counter()
        outcome = count()
        seconds = time.perf_counter() - clock
        log(f"{case['label']}: ours {rule} {seconds:.3f} s")
        results[rule] = {"ours_s": round(seconds, 3), "selected": sorted(outcome.selected)}
        if rule == "mes-add1":
            results[rule]["voter_budget"] = outcome.variant["voter_budget"]
    if official is not None:
        figures["official_greedy_reproduced"] = set(results["greedy"]["selected"]) == official
    figures["rules"] = results
    return figures


# --- pabutools, in a subprocess ----------------------------------------------------------------


def pabutools_worker(case: dict[str, Any], rule: str) -> None:
    """Build pabutools' profile, print ``ready``, count with ``rule``, print the result JSON."""
    from pabutools.election import ApprovalBallot, ApprovalProfile, Cost_Sat, Instance, Project
    from pabutools.election import parse_pabulib as pabu_parse
    from pabutools.rules import (
        exhaustion_by_budget_increase,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
        sequential_phragmen,
    )
    from pabutools.tiebreaking import lexico_tie_breaking

    if case["kind"] == "file":
        instance, profile = pabu_parse(case["path"])
    else:
        costs, budget, ballots = synthetic(**case["profile"])
        projects = {pid: Project(pid, cost) for pid, cost in costs.items()}
        instance = Instance(projects.values(), budget_limit=budget)
        profile = ApprovalProfile(
            [ApprovalBallot({projects[pid] for pid in ballot}) for ballot in ballots],
            instance=instance,
        )
    options = {"sat_class": Cost_Sat, "tie_breaking": lexico_tie_breaking}
    print("ready", flush=True)
    clock = time.perf_counter()
    if rule == "greedy":
        allocation = greedy_utilitarian_welfare(instance, profile, **options)
    elif rule == "mes":
        allocation = method_of_equal_shares(instance, profile, **options)
    elif rule == "mes-add1":
        allocation = exhaustion_by_budget_increase(
            instance,
            profile,
            method_of_equal_shares,
            options,
            budget_step=profile.num_ballots(),
            exhaustive_stop=True,
        )
    else:
        allocation = sequential_phragmen(instance, profile, tie_breaking=lexico_tie_breaking)
    seconds = time.perf_counter() - clock
    selected = sorted(project.name for project in allocation)
    print(json.dumps({"seconds": seconds, "selected": selected}), flush=True)


def pabutools(case: dict[str, Any], rule: str, cap: float) -> dict[str, Any]:
    """Run :func:`pabutools_worker` in a subprocess; stop it ``cap`` seconds after it is ready."""
    command = [sys.executable, "-m", "bench.tally", "--pabutools", json.dumps(case), rule]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    ready = threading.Event()
    lines: list[str] = []

    def read() -> None:
        for line in child.stdout:  # type: ignore[union-attr]
            lines.append(line.strip())
            if line.strip() == "ready":
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready.wait()
        try:
            child.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            log(f"{case['label']}: pabutools {rule} timed out after {cap:g} s")
            return {"timed_out_after_s": cap}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    reader.join()
    if child.returncode != 0 or not lines or not lines[-1].startswith("{"):
        return {"error": f"exit status {child.returncode}"}
    result = json.loads(lines[-1])
    log(f"{case['label']}: pabutools {rule} {result['seconds']:.1f} s")
    return {"seconds": round(result["seconds"], 3), "selected": result["selected"]}


# --- the benchmark ---------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    cap = float(os.environ.get("TALLY_PABUTOOLS_CAP_S", 25 if quick else 600))
    add1_cap = float(os.environ.get("TALLY_PABUTOOLS_ADD1_CAP_S", cap))
    jobs = int(os.environ.get("TALLY_PABUTOOLS_JOBS", 2))
    profile = QUICK if quick else FULL
    synthetic_case = {
        "label": f"synthetic {profile['voters']} x {profile['projects']}",
        "kind": "synthetic",
        "profile": profile,
    }
    lodz_path = pabulib_dir() / LODZ
    cases = {"synthetic": synthetic_case}
    missing = None
    if lodz_path.exists():
        cases["lodz"] = {"label": "Łódź 2022", "kind": "file", "path": str(lodz_path)}
    else:
        missing = f"{lodz_path} not found (set PABULIB_DIR): Łódź not counted"
        log(missing)

    figures = {name: ours(case) for name, case in cases.items()}

    # pabutools: quick skips Łódź (building its profile alone takes a good part of a minute).
    work = [(name, rule) for name in cases for rule in RULES if not (quick and name == "lodz")]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            key: pool.submit(
                pabutools, cases[key[0]], key[1], add1_cap if key[1] == "mes-add1" else cap
            )
            for key in work
        }
    for (name, rule), future in futures.items():
        theirs = future.result()
        entry = figures[name]["rules"][rule]
        entry["pabutools"] = theirs
        if "seconds" in theirs:
            entry["pabutools_s"] = theirs["seconds"]
            entry["ratio"] = round(theirs["seconds"] / max(entry["ours_s"], 1e-6), 1)
            entry["identical"] = theirs["selected"] == entry["selected"]
        elif "timed_out_after_s" in theirs:
            entry["ratio_at_least"] = round(theirs["timed_out_after_s"] / entry["ours_s"], 1)
        theirs.pop("selected", None)

    synthetic_rules = figures["synthetic"]["rules"]
    targets = {rule: synthetic_rules[rule]["ours_s"] <= limit for rule, limit in TARGETS_S.items()}
    compared = [
        entry["identical"]
        for case in figures.values()
        for entry in case["rules"].values()
        if "identical" in entry
    ]
    official = figures.get("lodz", {}).get("official_greedy_reproduced", True)
    for case in figures.values():
        for entry in case["rules"].values():
            entry["selected_count"] = len(entry.pop("selected"))
    return {
        "ok": all(targets.values()) and all(compared) and official,
        "quick": quick,
        "targets_s": TARGETS_S,
        "targets_met": targets,
        "outcomes_compared": len(compared),
        "outcomes_identical": sum(compared),
        "pabutools_cap_s": cap,
        "pabutools_add1_cap_s": add1_cap,
        "pabutools_jobs": jobs,
        "lodz_missing": missing,
        "profiles": figures,
    }


def table(result: dict[str, Any]) -> str:
    size = "quick" if result["quick"] else "full"
    lines = [
        f"tally ({size}): our engine vs pabutools 1.2.3 (pabutools capped at "
        f"{result['pabutools_cap_s']:g} s, Add1 at {result['pabutools_add1_cap_s']:g} s, "
        f"{result['pabutools_jobs']} at a time)",
    ]
    if result["lodz_missing"]:
        lines.append(f"! {result['lodz_missing']}")
    for name, case in result["profiles"].items():
        lines += [
            "",
            f"{name}: {case['voters']} voters ({case['distinct_ballots']} distinct ballots), "
            f"{case['projects']} projects; loaded in {case['load_s']} s",
        ]
        if "official_greedy_reproduced" in case:
            lines.append(
                f"  greedy reproduces the official outcome: {case['official_greedy_reproduced']}"
            )
        lines.append(
            f"  {'rule':9} {'ours s':>8} {'pabutools s':>16} {'ratio':>9}  identical  selected"
        )
        for rule, entry in case["rules"].items():
            theirs = entry.get("pabutools", {})
            if "seconds" in theirs:
                pabu, ratio = f"{theirs['seconds']:.2f}", f"{entry['ratio']:g}x"
            elif "timed_out_after_s" in theirs:
                pabu = f">{theirs['timed_out_after_s']:g} (timeout)"
                ratio = f">{entry['ratio_at_least']:g}x"
            else:
                pabu, ratio = theirs.get("error", "not run"), ""
            same = str(entry.get("identical", "-"))
            lines.append(
                f"  {rule:9} {entry['ours_s']:8.3f} {pabu:>16} {ratio:>9}  {same:9}  "
                f"{entry['selected_count']}"
            )
    met = ", ".join(
        f"{rule} <= {limit:g} s: {result['targets_met'][rule]}"
        for rule, limit in result["targets_s"].items()
    )
    lines += [
        "",
        f"targets on the synthetic profile: {met}",
        f"outcomes identical: {result['outcomes_identical']} of {result['outcomes_compared']} "
        f"compared; ok: {result['ok']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--pabutools":
        pabutools_worker(json.loads(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: python -m bench.tally --pabutools '<case JSON>' <rule>")
