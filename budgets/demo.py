"""Demo budget rounds for ``seed_demo``: one open for voting and one counted, with results.

Idempotent: a round whose slug exists is left alone. The counted round's ballots are drawn from
a fixed seed and go through the same services as real ones (paper entry excepted).
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from engagement.places.models import Ward

from . import services
from .models import Budget, Project, Round

DEMO_SEED = 2026
PROJECTS = [
    ("C01", "Play park for Llanfair Green", "Parc chwarae i Lawnt Llanfair", 85_000, "Play"),
    ("C02", "Riverside path lighting", "Goleuo llwybr glan yr afon", 40_000, "Safety"),
    ("C03", "Town centre bike shelters", "Llochesi beiciau canol y dref", 18_000, "Transport"),
    ("C04", "Community orchard", "Perllan gymunedol", 12_000, "Green spaces"),
    ("C05", "Library makerspace", "Gofod creu yn y llyfrgell", 30_000, "Learning"),
    ("C06", "Bus stop seating", "Seddi mewn arosfannau bws", 15_000, "Transport"),
    ("C07", "Wildflower verges", "Ymylon blodau gwyllt", 8_000, "Green spaces"),
    ("C08", "Youth club refurbishment", "Adnewyddu'r clwb ieuenctid", 55_000, "Young people"),
]


def _inside(ward: Ward, n: int) -> tuple[float, float]:
    """A point in ``ward`` near its middle, spread a little by ``n`` (demo locations)."""
    from shapely.geometry import shape

    centre = shape(ward.boundary).representative_point()
    return round(centre.x + (n % 3 - 1) * 0.002, 6), round(centre.y + (n % 2) * 0.001, 6)


def _round(slug: str, title: str, title_cy: str, phase: str, opens, closes) -> Round:
    return Round.objects.create(
        slug=slug,
        title=title,
        title_cy=title_cy,
        description=(
            "Residents decide how to spend £150,000 on projects across the county borough, "
            "and £20,000 in each of three wards."
        ),
        description_cy=(
            "Mae trigolion yn penderfynu sut i wario £150,000 ar brosiectau ar draws y "
            "fwrdeistref sirol, a £20,000 ym mhob un o dair ward."
        ),
        phase=phase,
        voting_opens_at=opens,
        voting_closes_at=closes,
        verify_letter=True,
    )


def _budgets(round_: Round, wards: list[Ward]) -> list[Budget]:
    budgets = [
        Budget.objects.create(
            round=round_,
            name="County borough",
            name_cy="Y fwrdeistref sirol",
            amount=Decimal(150_000),
            ballot_type="approval",
            min_projects=1,
            max_projects=5,
            rule="mes",
            completion="add1",
            lot_seed=DEMO_SEED,
        )
    ]
    for n, (reference, title, title_cy, cost, category) in enumerate(PROJECTS):
        lon, lat = _inside(wards[n % len(wards)], n)
        Project.objects.create(
            budget=budgets[0],
            longitude=lon,
            latitude=lat,
            location_name=wards[n % len(wards)].name,
            reference=reference,
            title=title,
            title_cy=title_cy,
            description=f"{title}: a project proposed by residents and costed by the council.",
            cost=Decimal(cost),
            category=category,
        )
    for ward in wards:
        budget = Budget.objects.create(
            round=round_,
            name=f"{ward.name} ward",
            ward=ward,
            amount=Decimal(20_000),
            ballot_type="knapsack",
            rule="greedy",
            completion="none",
            lot_seed=DEMO_SEED,
        )
        for n, (what, cost) in enumerate(
            (("New benches", 6_000), ("Street trees", 9_000), ("Notice board", 2_500))
        ):
            lon, lat = _inside(ward, n + 3)
            Project.objects.create(
                budget=budget,
                longitude=lon,
                latitude=lat,
                location_name=ward.name,
                reference=f"{ward.slug[:20].upper()}-{n + 1}",
                title=f"{what} in {ward.name}",
                cost=Decimal(cost),
                category="Neighbourhood",
            )
        budgets.append(budget)
    return budgets


def seed_budget_rounds() -> bool:
    """Create the demo rounds if they are missing; True if anything was created."""
    wards = list(Ward.objects.order_by("name")[:3])
    if not wards:
        return False
    changed = False
    now = timezone.now()
    if not Round.objects.filter(slug="parks-and-places-2026").exists():
        round_ = _round(
            "parks-and-places-2026",
            "Parks and places 2026",
            "Parciau a lleoedd 2026",
            Round.Phase.VOTING,
            now - timedelta(days=3),
            now + timedelta(days=60),
        )
        _budgets(round_, wards)
        changed = True
    if not Round.objects.filter(slug="community-fund-2025").exists():
        changed = True
        round_ = _round(
            "community-fund-2025",
            "Community fund 2025",
            "Cronfa gymunedol 2025",
            Round.Phase.VOTING,
            now - timedelta(days=2),
            now + timedelta(days=1),
        )
        budgets = _budgets(round_, wards)
        rng = random.Random(DEMO_SEED)  # noqa: S311 - demo data
        councilwide = list(budgets[0].projects.all())
        weights = [8, 5, 4, 6, 3, 3, 5, 4]
        for n in range(240):
            ward = wards[n % len(wards)]
            who = services.Identity(reference=f"demo-2025-{n:04d}", ward=ward, verified_by="email")
            picked = set(rng.choices(councilwide, weights=weights, k=rng.randint(1, 5)))
            services.ballot_cast(
                budget=budgets[0],
                identity=who,
                choices={p.pk: 1 for p in picked},
                channel="paper" if n % 7 == 0 else "online",
                now=now,
            )
        round_.voting_closes_at = now
        round_.phase = Round.Phase.COUNTING
        round_.save(update_fields=["voting_closes_at", "phase"])
        for budget in budgets:
            services.result_count(budget_id=budget.pk)
        services.round_set_phase(round_=round_, actor=None, phase=Round.Phase.RESULTS)
    return changed
