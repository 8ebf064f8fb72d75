"""Budget rounds for tests: a round open for voting with a council-wide and two ward budgets."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from budgets.models import Budget, Project, Round
from tests.factories import PostcodeFactory, WardFactory


def make_round(
    *,
    slug: str = "parks-2026",
    phase: str = Round.Phase.VOTING,
    ballot_type: str = "approval",
    wards: int = 2,
    **options,
) -> Round:
    now = timezone.now()
    round_ = Round.objects.create(
        title="Parks and play 2026",
        title_cy="Parciau a chwarae 2026",
        slug=slug,
        phase=phase,
        voting_opens_at=now - timedelta(days=1),
        voting_closes_at=now + timedelta(days=1),
        **options,
    )
    councilwide = Budget.objects.create(
        round=round_,
        name="Council-wide",
        amount=Decimal(100_000),
        ballot_type=ballot_type,
        min_projects=1,
        max_projects=3,
        rule="greedy",
        completion="none",
    )
    for ref, title, cost in (
        ("P1", "New play park", 60_000),
        ("P2", "River path", 30_000),
        ("P3", "Bike shelters", 20_000),
        ("P4", "Community orchard", 10_000),
    ):
        Project.objects.create(budget=councilwide, reference=ref, title=title, cost=Decimal(cost))
    for n in range(wards):
        ward = WardFactory(name=f"Ward {chr(65 + n)}", slug=f"{slug}-ward-{n}")
        PostcodeFactory(ward=ward)
        budget = Budget.objects.create(
            round=round_,
            name=f"{ward.name} budget",
            ward=ward,
            amount=Decimal(20_000),
            ballot_type="approval",
            rule="greedy",
            completion="none",
        )
        for m, cost in enumerate((12_000, 8_000, 5_000)):
            Project.objects.create(
                budget=budget,
                reference=f"W{n}{m}",
                title=f"{ward.name} project {m}",
                cost=Decimal(cost),
            )
    return round_


def projects(budget: Budget) -> dict[str, int]:
    return dict(budget.projects.values_list("reference", "pk"))
