"""50 simultaneous submissions by the same voter store exactly one ballot (issue 5, PostgreSQL).

Real threads, each with its own database connection, released together by a barrier. Under
SQLite (the local default) the database serialises every writer, which proves nothing, so this
test needs PostgreSQL; CI runs it there (``.ci/run`` sets DATABASE_URL), and under ``CI=true`` a
missing PostgreSQL is a failure, not a skip.
"""

import os
import threading

import pytest
from django.db import connection, connections

from budgets import services
from budgets.models import Ballot, BallotChoice, Voter
from tests.budgets.factories import make_round, projects

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def needs_postgresql():
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("This test needs PostgreSQL (set DATABASE_URL).")
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")


def storm(budget, identity, choices_for, n: int = 50) -> list[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def vote(i: int) -> None:
        try:
            barrier.wait()
            services.ballot_cast(budget=budget, identity=identity, choices=choices_for(i))
            outcome = "stored"
        except services.VotingError as exc:
            outcome = str(exc)
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_fifty_simultaneous_ballots_store_one(resident):
    round_ = make_round(allow_vote_change=False)
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    identity = services.Identity(user=resident, verified_by="email")
    outcomes = storm(budget, identity, lambda i: {p["P1" if i % 2 else "P2"]: 1})
    assert len(outcomes) == 50
    assert outcomes.count("stored") == 1
    assert set(outcomes) - {"stored"} == {"This voter has already voted in this budget."}
    assert Voter.objects.count() == 1
    assert Ballot.objects.count() == 1
    assert BallotChoice.objects.count() == 1


def test_fifty_simultaneous_changes_leave_one_ballot(resident):
    round_ = make_round(allow_vote_change=True)
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    identity = services.Identity(user=resident, verified_by="email")
    outcomes = storm(budget, identity, lambda i: {p[f"P{1 + i % 4}"]: 1})
    assert outcomes == ["stored"] * 50
    assert Voter.objects.count() == 1
    assert Ballot.objects.count() == 1
    assert BallotChoice.objects.count() == 1
