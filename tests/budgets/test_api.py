"""The budgets API: rounds, and results and anonymised ballots once published (issue 5)."""

import pytest
from django.test import Client

from budgets import services
from tests.budgets.factories import make_round, projects
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_rounds_results_and_ballots(staff, django_capture_on_commit_callbacks):
    round_ = make_round()
    budget = round_.budgets.get(ward__isnull=True)
    p = projects(budget)
    for n, refs in enumerate([("P1",), ("P2", "P4")]):
        who = services.Identity(user=make_user(f"a{n}@example.org"), verified_by="email")
        services.ballot_cast(budget=budget, identity=who, choices={p[r]: 1 for r in refs})
    client = Client()
    listing = client.get("/api/budget-rounds/").json()
    assert [r["slug"] for r in listing["results"]] == ["parks-2026"]
    detail = client.get("/api/budget-rounds/parks-2026/").json()
    assert detail["turnout"]["voters"] == 2
    councilwide = next(b for b in detail["budgets"] if b["ward"] is None)
    assert councilwide["result"] is None
    assert [x["reference"] for x in councilwide["projects"]] == ["P1", "P2", "P3", "P4"]
    url = f"/api/budget-rounds/parks-2026/budgets/{budget.pk}/ballots/"
    assert client.get(url).status_code == 404  # not before the results are published

    with django_capture_on_commit_callbacks(execute=True):
        services.count_start(
            round_=round_, actor=staff, now=round_.voting_closes_at + services.COUNT_GRACE
        )
    services.round_set_phase(round_=round_, actor=staff, phase="results")
    detail = client.get("/api/budget-rounds/parks-2026/").json()
    councilwide = next(b for b in detail["budgets"] if b["ward"] is None)
    # one vote each: ties go to the lower cost
    assert councilwide["result"]["selected"] == ["P4", "P2", "P1"]
    assert councilwide["result"]["variant"]["rule"] == "greedy"
    ballots = client.get(url).json()
    assert ballots["count"] == 2
    assert sorted(tuple(c["project"] for c in b["choices"]) for b in ballots["results"]) == [
        ("P1",),
        ("P2", "P4"),
    ]
    assert client.get("/api/budget-rounds/parks-2026/budgets/999/ballots/").status_code == 404
