"""Participatory budgets: rounds, their budgets and projects, voters, ballots and results.

Secrecy (ADR 7): who voted (:class:`Voter`) and how (:class:`Ballot`) are separate tables with no
foreign key between them. A ballot carries ``voter_token``, a keyed hash (``BALLOT_LINK_KEY``) of
the voter row, which lets the service replace a voter's ballot when the round allows changes and
lets the database refuse a second ballot; a database copy without the key cannot link the two.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.core.i18n import localised
from engagement.core.validators import validate_no_control_characters, validate_single_line

_line = [validate_single_line]
_text = [validate_no_control_characters]
_money = [MinValueValidator(Decimal(0))]


class Round(models.Model):
    class Phase(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IDEAS = "ideas", _("Ideas")
        REVIEW = "review", _("Feasibility review")
        VOTING = "voting", _("Voting")
        COUNTING = "counting", _("Counting")
        RESULTS = "results", _("Results")
        DELIVERY = "delivery", _("Delivery")
        CLOSED = "closed", _("Closed")

    class AreaRule(models.TextChoices):
        OWN = "own", _("Own area only")
        OWN_PLUS_ONE = "own_plus_one", _("Own area plus one other")
        ANY = "any", _("Any one area")

    title = models.CharField(_("title"), max_length=200, validators=_line)
    title_cy = models.CharField(_("title (Welsh)"), max_length=200, blank=True, validators=_line)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True, validators=_text)
    description_cy = models.TextField(_("description (Welsh)"), blank=True, validators=_text)
    phase = models.CharField(_("phase"), max_length=10, choices=Phase, default=Phase.DRAFT)
    ideas_open = models.BooleanField(_("residents may propose projects"), default=False)
    voting_opens_at = models.DateTimeField(_("voting opens"), null=True, blank=True)
    voting_closes_at = models.DateTimeField(_("voting closes"), null=True, blank=True)
    allow_vote_change = models.BooleanField(
        _("voters may change their vote until the close"),
        default=True,
        help_text=_("The last ballot counts."),
    )
    area_rule = models.CharField(
        _("which area budgets a voter may vote in"),
        max_length=14,
        choices=AreaRule,
        default=AreaRule.OWN,
    )
    minimum_age = models.PositiveSmallIntegerField(
        _("minimum age"), default=16, validators=[MaxValueValidator(120)]
    )
    verify_email = models.BooleanField(_("a verified email address is enough"), default=True)
    verify_sms = models.BooleanField(_("verify by a text message code"), default=False)
    verify_letter = models.BooleanField(_("verify by a voting code from a letter"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-voting_opens_at", "-pk"]
        verbose_name = _("budget round")
        verbose_name_plural = _("budget rounds")
        constraints = [
            models.CheckConstraint(
                condition=Q(voting_closes_at__gt=models.F("voting_opens_at"))
                | Q(voting_opens_at__isnull=True)
                | Q(voting_closes_at__isnull=True),
                name="budgets_round_window_order",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("budgets:round", kwargs={"slug": self.slug})

    @property
    def display_title(self) -> str:
        return localised(self.title, self.title_cy)

    @property
    def display_description(self) -> str:
        return localised(self.description, self.description_cy)

    def voting_is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.phase == self.Phase.VOTING
            and self.voting_opens_at is not None
            and self.voting_closes_at is not None
            and self.voting_opens_at <= now < self.voting_closes_at
        )

    @property
    def verification_methods(self) -> list[str]:
        return [
            name
            for name, on in (
                ("email", self.verify_email),
                ("sms", self.verify_sms),
                ("letter", self.verify_letter),
            )
            if on
        ]


class Budget(models.Model):
    """A pot of money in a round: council-wide (no ward) or for one ward."""

    class BallotType(models.TextChoices):
        APPROVAL = "approval", _("Approval: choose the projects you support")
        KNAPSACK = "knapsack", _("Knapsack: spend the budget")
        CUMULATIVE = "cumulative", _("Points: share out your points")
        RANKED = "ranked", _("Ranked: put your favourites in order")

    class Rule(models.TextChoices):
        GREEDY = "greedy", _("Greedy by votes (skipping projects that no longer fit)")
        GREEDY_NO_SKIP = "greedy-no-skip", _("Greedy by votes (stopping at the first misfit)")
        MES = "mes", _("Method of Equal Shares")
        PHRAGMEN = "phragmen", _("Sequential Phragmén")

    class Completion(models.TextChoices):
        NONE = "none", _("None")
        ADD1 = "add1", _("Add1 (raise every voter's share by one unit at a time)")
        ADD1U = "add1u", _("Add1, then greedy by votes")

    class TieBreak(models.TextChoices):
        NAME = "name", _("By project reference")
        COST_VOTES_LOT = "cost-votes-lot", _("Lower cost, then more votes, then a lot")

    round = models.ForeignKey(
        Round, verbose_name=_("round"), on_delete=models.CASCADE, related_name="budgets"
    )
    name = models.CharField(_("name"), max_length=150, validators=_line)
    name_cy = models.CharField(_("name (Welsh)"), max_length=150, blank=True, validators=_line)
    ward = models.ForeignKey(
        "places.Ward",
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="budgets",
        help_text=_("Leave empty for a council-wide budget."),
    )
    amount = models.DecimalField(
        _("amount (£)"), max_digits=14, decimal_places=2, validators=_money
    )
    ballot_type = models.CharField(
        _("ballot"), max_length=10, choices=BallotType, default=BallotType.APPROVAL
    )
    min_projects = models.PositiveSmallIntegerField(_("fewest projects"), default=1)
    max_projects = models.PositiveSmallIntegerField(
        _("most projects"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    min_spend_percent = models.PositiveSmallIntegerField(
        _("least share of the budget to spend (%)"),
        default=0,
        validators=[MaxValueValidator(100)],
        help_text=_("Knapsack ballots only."),
    )
    points = models.PositiveSmallIntegerField(
        _("points to share"), default=10, help_text=_("Points ballots only.")
    )
    max_points_per_project = models.PositiveSmallIntegerField(
        _("most points for one project"), default=5, help_text=_("Points ballots only.")
    )
    rank_count = models.PositiveSmallIntegerField(
        _("how many projects to rank"), default=3, help_text=_("Ranked ballots only.")
    )
    rule = models.CharField(_("counting rule"), max_length=16, choices=Rule, default=Rule.MES)
    completion = models.CharField(
        _("completion"), max_length=6, choices=Completion, default=Completion.ADD1
    )
    exhaustive_stop = models.BooleanField(
        _("stop Add1 at the first outcome that spends as much as it can"), default=True
    )
    integral_start = models.BooleanField(_("start Add1 from whole pounds"), default=False)
    comparison = models.BooleanField(_("compare with greedy at the end"), default=False)
    tie_break = models.CharField(
        _("ties"), max_length=16, choices=TieBreak, default=TieBreak.COST_VOTES_LOT
    )
    lot_seed = models.PositiveIntegerField(
        _("lot number"),
        default=0,
        help_text=_("The seed of the lot drawn before counting; published with the results."),
    )

    class Meta:
        # Council-wide (no ward) first on every database (PostgreSQL sorts NULLs last).
        ordering = ["round", models.F("ward__name").asc(nulls_first=True), "name"]
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            models.UniqueConstraint(fields=["round", "ward"], name="budgets_budget_one_per_ward"),
            models.UniqueConstraint(
                fields=["round"],
                condition=Q(ward__isnull=True),
                name="budgets_budget_one_councilwide",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return localised(self.name, self.name_cy)

    @property
    def is_councilwide(self) -> bool:
        return self.ward_id is None


class Project(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        ACCEPTED = "accepted", _("On the ballot")
        REJECTED = "rejected", _("Not feasible")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Delivery(models.TextChoices):
        NOT_STARTED = "not_started", _("Not started")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    budget = models.ForeignKey(
        Budget, verbose_name=_("budget"), on_delete=models.CASCADE, related_name="projects"
    )
    reference = models.CharField(
        _("reference"),
        max_length=40,
        validators=_line,
        help_text=_("Printed on paper ballots and used as the project id in exported files."),
    )
    title = models.CharField(_("title"), max_length=200, validators=_line)
    title_cy = models.CharField(_("title (Welsh)"), max_length=200, blank=True, validators=_line)
    description = models.TextField(_("description"), blank=True, validators=_text)
    description_cy = models.TextField(_("description (Welsh)"), blank=True, validators=_text)
    cost = models.DecimalField(_("cost (£)"), max_digits=14, decimal_places=2, validators=_money)
    category = models.CharField(_("category"), max_length=80, blank=True, validators=_line)
    latitude = models.FloatField(
        _("latitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.FloatField(
        _("longitude"),
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    location_name = models.CharField(_("where"), max_length=200, blank=True, validators=_line)
    image = models.ImageField(_("image"), upload_to="budgets/projects/", blank=True)
    image_alt = models.CharField(_("image description"), max_length=250, blank=True)
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="proposed_projects",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.ACCEPTED)
    review_note = models.TextField(_("feasibility note"), blank=True, validators=_text)
    delivery = models.CharField(
        _("delivery"), max_length=12, choices=Delivery, default=Delivery.NOT_STARTED
    )
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["budget", "reference"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "reference"], name="budgets_project_reference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    @property
    def display_title(self) -> str:
        return localised(self.title, self.title_cy)

    @property
    def display_description(self) -> str:
        return localised(self.description, self.description_cy)


class ProjectUpdate(models.Model):
    """A delivery update (a milestone, with an optional photo)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="updates")
    text = models.TextField(_("update"), validators=_text)
    photo = models.ImageField(_("photo"), upload_to="budgets/updates/", blank=True)
    photo_alt = models.CharField(_("photo description"), max_length=250, blank=True)
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), validators=[MaxValueValidator(100)]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.project.reference} update {self.created_at:%Y-%m-%d}"


class VotingCode(models.Model):
    """A one-time voting code printed on a letter (staff generate them in batches)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=20)
    batch = models.CharField(_("batch"), max_length=80, validators=_line)
    ward = models.ForeignKey(
        "places.Ward", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["round", "code"], name="budgets_code_unique")
        ]

    def __str__(self) -> str:
        return self.code


class Voter(models.Model):
    """That someone voted in a round, and how they were verified: never what they chose.

    One person, one vote is kept by the unique constraints: a user account, a letter code and a
    paper register reference each vote at most once per round.
    """

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        PAPER = "paper", _("Paper")
        ASSISTED = "assisted", _("Assisted")

    class Connection(models.TextChoices):
        LIVES = "lives", _("I live here")
        WORKS = "works", _("I work here")
        STUDIES = "studies", _("I study here")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="voters")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="budget_votes",
    )
    code = models.OneToOneField(
        VotingCode, null=True, blank=True, on_delete=models.PROTECT, related_name="voter"
    )
    reference = models.CharField(
        _("paper register reference"), max_length=80, blank=True, validators=_line
    )
    channel = models.CharField(max_length=8, choices=Channel, default=Channel.ONLINE)
    verified_by = models.CharField(max_length=8)
    phone_hash = models.CharField(max_length=64, blank=True)
    ward = models.ForeignKey("places.Ward", null=True, on_delete=models.SET_NULL, related_name="+")
    connection = models.CharField(max_length=8, choices=Connection, default=Connection.LIVES)
    voted_on = models.DateField(default=timezone.localdate)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["round", "user"], condition=Q(user__isnull=False), name="budgets_voter_user"
            ),
            models.UniqueConstraint(
                fields=["round", "phone_hash"],
                condition=~Q(phone_hash=""),
                name="budgets_voter_phone",
            ),
            models.UniqueConstraint(
                fields=["round", "reference"],
                condition=~Q(reference=""),
                name="budgets_voter_reference",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(code__isnull=False) | ~Q(reference=""),
                name="budgets_voter_has_identity",
            ),
        ]

    def __str__(self) -> str:
        return f"voter {self.pk} in round {self.round_id}"


class Ballot(models.Model):
    """What one voter chose in one budget, with no link to who they are (see the module doc)."""

    # Random, so the order of ballots says nothing about the order of voters.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="ballots")
    voter_token = models.CharField(max_length=64)
    public_id = models.CharField(max_length=16, unique=True)
    receipt_hash = models.CharField(max_length=64, unique=True)
    channel = models.CharField(max_length=8, choices=Voter.Channel)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "voter_token"], name="budgets_ballot_one_per_voter"
            )
        ]

    def __str__(self) -> str:
        return f"ballot {self.public_id}"


class BallotChoice(models.Model):
    """One project on a ballot: ``value`` is 1 (approval, knapsack), the points or the rank."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="choices")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="choices")
    value = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ballot", "project"], name="budgets_choice_project_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id}={self.value}"


class PaperEntry(models.Model):
    """One staff member's keying of one paper ballot; two matching entries make the ballot.

    Entries hold the voter's identity beside the choices only until the ballot is committed:
    committing deletes them (the audit log keeps who keyed which paper serial number).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for the second entry")
        MISMATCH = "mismatch", _("The two entries differ")

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="paper_entries")
    serial = models.CharField(_("paper serial number"), max_length=40, validators=_line)
    channel = models.CharField(max_length=8, choices=Voter.Channel, default=Voter.Channel.PAPER)
    identity = models.CharField(max_length=254)
    choices = models.JSONField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status, default=Status.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "serial", "entered_by"], name="budgets_paper_entry_once_each"
            )
        ]

    def __str__(self) -> str:
        return f"paper {self.serial}"


class PhoneCode(models.Model):
    """A one-time code sent by text message to verify a voter (only hashes are kept)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    phone_hash = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "round"], name="budgets_phone_code_one")
        ]

    def __str__(self) -> str:
        return f"phone code for round {self.round_id}"


class Result(models.Model):
    """The count of one budget: the outcome, every option in force and the per-project votes."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Counting")
        DONE = "done", _("Counted")
        FAILED = "failed", _("Failed")

    budget = models.OneToOneField(Budget, on_delete=models.CASCADE, related_name="result")
    status = models.CharField(max_length=8, choices=Status, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    selected = models.JSONField(default=list)
    spent = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    variant = models.JSONField(default=dict)
    votes = models.JSONField(default=dict)
    ballots = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(
        default=0, help_text="Ballots with at least one funded project."
    )
    published = models.BooleanField(default=False)
    counted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"result of budget {self.budget_id}"
