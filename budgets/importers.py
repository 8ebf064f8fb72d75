"""pabulib import: a ``.pb`` file becomes a round with one budget, its projects and ballots.

For migrating past rounds and for testing. Every ballot is checked with the same rules as a live
vote (:func:`budgets.ballots.ballot_clean`); the whole file is checked before anything is
written, and it is written in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from engagement.audit.services import audit_record

from .ballots import BallotError, BallotRules, ballot_clean
from .models import Ballot, BallotChoice, Budget, Project, Round, Voter
from .services import random_code, secret_hash, voter_token
from .tally.pabulib import PabulibError, parse_pabulib

BALLOT_TYPES = {
    "approval": "approval",
    "choose-1": "approval",
    "knapsack": "knapsack",
    "cumulative": "cumulative",
    "ordinal": "ranked",
}


def _rule(meta_rule: str) -> dict[str, Any]:
    """The counting options named by a file's ``rule`` (greedy when it names none we know)."""
    rule = meta_rule.strip().lower()
    if rule.startswith("equalshares"):
        options = {"rule": "mes", "completion": "none", "comparison": False}
        if "add1" in rule:
            options["completion"] = "add1"
        if rule.endswith("-comparison"):
            options |= {"comparison": True, "exhaustive_stop": False}
        return options
    if rule in ("phragmen", "greedy-no-skip"):
        return {"rule": rule, "completion": "none"}
    return {"rule": "greedy", "completion": "none"}


def _pounds(value: Fraction, what: str) -> Decimal:
    pence = value * 100
    if pence.denominator != 1:
        raise ValidationError(_("%(what)s is not a whole number of pence.") % {"what": what})
    return Decimal(pence.numerator) / 100


def _date(text: str, fallback: datetime) -> datetime:
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text.strip(), fmt).date()  # noqa: DTZ007 - a date only
        except ValueError:
            continue
        return timezone.make_aware(datetime.combine(day, time(0, 0)))
    return fallback


def round_import_pabulib(*, text: str, slug: str, actor: Any) -> Round:
    try:
        pb = parse_pabulib(text)
    except PabulibError as exc:
        raise ValidationError(
            _("The file is not a valid pabulib file: %(error)s") % {"error": exc}
        ) from None
    ballot_type = BALLOT_TYPES.get(pb.vote_type)
    if ballot_type is None:
        raise ValidationError(
            _("Ballots of type %(type)s cannot be imported.") % {"type": pb.vote_type}
        )
    slug = slugify(slug)[:120]
    if not slug or Round.objects.filter(slug=slug).exists():
        raise ValidationError(_("Choose another slug: that one is empty or already used."))
    meta = pb.meta
    sizes = [len(v.projects) for v in pb.votes] or [1]
    min_length = int(meta.get("min_length") or 1)
    max_length = int(meta["max_length"]) if meta.get("max_length") else None
    if pb.vote_type == "choose-1":
        max_length = 1
    now = timezone.now()
    closes = _date(meta.get("date_end", ""), now - timedelta(days=1))
    opens = _date(meta.get("date_begin", ""), closes - timedelta(days=14))
    if closes <= opens:
        closes = opens + timedelta(days=1)
    round_ = Round(
        title=(meta.get("description") or meta.get("instance") or slug)[:200].replace("\n", " "),
        slug=slug,
        description=_("Imported from a pabulib file (%(unit)s, %(instance)s).")
        % {"unit": meta.get("unit", "?"), "instance": meta.get("instance", "?")},
        phase=Round.Phase.VOTING,
        voting_opens_at=opens,
        voting_closes_at=closes,
        allow_vote_change=False,
        minimum_age=0,
    )
    points = [p for v in pb.votes for p in (v.points or ())]
    budget = Budget(
        round=round_,
        name=(meta.get("subunit") or meta.get("unit") or _("Budget"))[:150],
        amount=_pounds(pb.budget, _("The budget")),
        ballot_type=ballot_type,
        min_projects=min(min_length, min(sizes)),
        max_projects=max(max_length, max(sizes)) if max_length else None,
        tie_break=Budget.TieBreak.NAME,
        **_rule(meta.get("rule", "")),
    )
    if ballot_type == "cumulative":
        budget.points = int(
            meta.get("max_sum_points") or max(sum(v.points or ()) for v in pb.votes)
        )
        budget.max_points_per_project = int(meta.get("max_points") or max(points, default=1))
    if ballot_type == "ranked":
        budget.rank_count = max(sizes)
    projects = [
        Project(
            budget=budget,
            reference=pid[:40],
            title=(p.fields.get("name") or pid)[:200].replace("\n", " "),
            cost=_pounds(p.cost, _("The cost of project %(id)s") % {"id": pid}),
            category=(p.fields.get("category") or "")[:80],
            status=Project.Status.ACCEPTED,
        )
        for pid, p in pb.projects.items()
    ]
    # Check every ballot before writing anything (ids stand in for the not yet saved projects).
    index = {pid: i for i, pid in enumerate(pb.projects)}
    rules = BallotRules(
        ballot_type=ballot_type,
        amount=budget.amount,
        costs={i: projects[i].cost for i in range(len(projects))},
        titles={i: projects[i].reference for i in range(len(projects))},
        min_projects=budget.min_projects,
        max_projects=budget.max_projects,
        points=budget.points,
        max_points_per_project=budget.max_points_per_project,
        rank_count=budget.rank_count,
    )
    ballots: list[dict[int, int]] = []
    for vote in pb.votes:
        if ballot_type == "cumulative":
            values = [int(x) for x in vote.points or ()]
        elif ballot_type == "ranked":
            values = list(range(1, len(vote.projects) + 1))
        else:
            values = [1] * len(vote.projects)
        try:
            ballots.append(
                ballot_clean(
                    rules, [(index[p], v) for p, v in zip(vote.projects, values, strict=True)]
                )
            )
        except BallotError as exc:
            raise ValidationError(
                _("Voter %(voter)s: %(error)s") % {"voter": vote.voter_id, "error": exc}
            ) from None
    with transaction.atomic():
        round_.full_clean()
        round_.save()
        budget.round = round_
        budget.full_clean()
        budget.save()
        for project in projects:
            project.budget = budget
            project.full_clean(exclude=["budget"])
        projects = Project.objects.bulk_create(projects)
        voters = Voter.objects.bulk_create(
            [
                Voter(round=round_, reference=f"pabulib:{vote.voter_id}"[:80], verified_by="import")
                for vote in pb.votes
            ],
            batch_size=5000,
        )
        rows = Ballot.objects.bulk_create(
            [
                Ballot(
                    budget=budget,
                    voter_token=voter_token(voter),
                    public_id="B" + random_code(10, group=10),
                    receipt_hash=secret_hash("receipt", random_code(12)),
                    channel=Voter.Channel.ONLINE,
                )
                for voter in voters
            ],
            batch_size=5000,
        )
        BallotChoice.objects.bulk_create(
            (
                BallotChoice(ballot=row, project=projects[i], value=value)
                for row, chosen in zip(rows, ballots, strict=True)
                for i, value in chosen.items()
            ),
            batch_size=10000,
        )
        audit_record(
            actor=actor,
            action="budget_round.import_pabulib",
            target=round_,
            changes={"projects": len(projects), "ballots": len(rows)},
        )
    return round_
