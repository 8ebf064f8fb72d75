"""Consultations and the council's petition scheme.

Petitions follow the UK Parliament's e-petitions service (alphagov/e-petitions): a creator
confirms by email and gathers sponsors, staff moderate, residents sign and a signature counts only
once its emailed link is clicked. One signature per person per petition is held by a unique
constraint on the normalised email address.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from engagement.core.i18n import localised
from engagement.core.validators import (
    validate_no_control_characters,
    validate_no_markup,
    validate_single_line,
)

_line = [validate_single_line]
_text = [validate_no_control_characters]
_public = [validate_no_markup]


class PetitionScheme(models.Model):
    """The council's petition scheme: one row, edited by admins."""

    sponsors_needed = models.PositiveSmallIntegerField(
        _("sponsors needed before moderation"), default=5, validators=[MaxValueValidator(50)]
    )
    response_threshold = models.PositiveIntegerField(
        _("signatures for a council response"), default=100, validators=[MinValueValidator(1)]
    )
    debate_threshold = models.PositiveIntegerField(
        _("signatures for a full council debate"), default=1500, validators=[MinValueValidator(1)]
    )
    open_months = models.PositiveSmallIntegerField(
        _("months a petition is open"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
    )
    eligibility = models.TextField(
        _("who may sign"),
        default="You must live, work or study in the council's area.",
        validators=_text,
    )
    eligibility_cy = models.TextField(_("who may sign (Welsh)"), blank=True, validators=_text)
    retention_months = models.PositiveSmallIntegerField(
        _("months after the close before signers are anonymised"), default=12
    )
    ip_short_limit = models.PositiveSmallIntegerField(
        _("signatures from one address per minute, per petition"), default=1
    )
    ip_long_limit = models.PositiveSmallIntegerField(
        _("signatures from one address per five minutes, per petition"), default=5
    )

    class Meta:
        verbose_name = _("petition scheme")
        verbose_name_plural = _("petition scheme")

    def __str__(self) -> str:
        return "Petition scheme"

    @property
    def display_eligibility(self) -> str:
        return localised(self.eligibility, self.eligibility_cy)


class RejectionReason(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=120, validators=_line)
    label_cy = models.CharField(_("label (Welsh)"), max_length=120, blank=True, validators=_line)
    description = models.TextField(_("explanation shown with the petition"), validators=_text)
    description_cy = models.TextField(_("explanation (Welsh)"), blank=True, validators=_text)
    hides_text = models.BooleanField(
        _("hide the petition's text"),
        default=False,
        help_text=_("For petitions that are offensive, defamatory or reveal personal data."),
    )

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    @property
    def display_label(self) -> str:
        return localised(self.label, self.label_cy)

    @property
    def display_description(self) -> str:
        return localised(self.description, self.description_cy)


class Petition(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the creator to confirm their email")
        VALIDATED = "validated", _("Gathering sponsors")
        SPONSORED = "sponsored", _("Waiting for moderation")
        CHANGES = "changes", _("Changes requested")
        OPEN = "open", _("Open")
        REJECTED = "rejected", _("Rejected")
        CLOSED = "closed", _("Closed")
        ARCHIVED = "archived", _("Archived")

    action = models.CharField(
        _("what do you want the council to do?"), max_length=80, validators=[*_line, *_public]
    )
    background = models.TextField(_("why"), max_length=300, validators=_public)
    details = models.TextField(_("more details"), max_length=800, blank=True, validators=_public)
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="petitions",
    )
    sponsor_token = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderation_note = models.TextField(_("changes asked for"), blank=True, validators=_text)
    rejection = models.ForeignKey(
        RejectionReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejection_details = models.TextField(blank=True, validators=_text)
    opened_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    signature_count = models.PositiveIntegerField(default=0)
    paper_count = models.PositiveIntegerField(_("paper signatures"), default=0)
    paper_scan = models.FileField(
        _("scan of the paper petition"), upload_to="petitions/paper/", blank=True
    )
    response_threshold_at = models.DateTimeField(null=True, blank=True)
    debate_threshold_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(_("council response"), blank=True, validators=_text)
    response_cy = models.TextField(_("council response (Welsh)"), blank=True, validators=_text)
    responded_at = models.DateTimeField(null=True, blank=True)
    debate_at = models.DateTimeField(_("debate date"), null=True, blank=True)
    debate_details = models.TextField(_("debate details"), blank=True, validators=_text)
    debate_url = models.URLField(_("link to the debate"), blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["state", "closes_at"])]

    def __str__(self) -> str:
        return self.action

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("petitions:detail", kwargs={"pk": self.pk})

    @property
    def total_count(self) -> int:
        return self.signature_count + self.paper_count

    @property
    def display_response(self) -> str:
        return localised(self.response, self.response_cy)

    @property
    def text_hidden(self) -> bool:
        """Rejected for a reason that hides what it says (personal data, say): its text is
        shown nowhere, only that it was rejected and why."""
        return (
            self.state == self.State.REJECTED
            and self.rejection is not None
            and self.rejection.hides_text
        )


class PetitionTally(models.Model):
    """One shard of a petition's online count. A confirmation adds one to the shard its
    signature's id falls in, so confirmations arriving together do not all queue for one row (the
    petition's, which every one of them used to update); ``Petition.signature_count`` is the sum
    of the shards, folded in by the count's tick job (at most a tick behind), which also acts on
    the thresholds it reaches. Staff invalidations subtract from shard 0, so a shard can be
    negative; the sum cannot."""

    SHARDS = 32

    # No index of its own: the shard constraint's index leads with the petition.
    petition = models.ForeignKey(
        Petition, on_delete=models.CASCADE, related_name="tallies", db_index=False
    )
    shard = models.PositiveSmallIntegerField()
    confirmed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["petition", "shard"], name="petitions_tally_shard")
        ]

    def __str__(self) -> str:
        return f"petition {self.petition_id} shard {self.shard}: {self.confirmed}"


class Signature(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for email confirmation")
        VALIDATED = "validated", _("Counted")
        FRAUDULENT = "fraudulent", _("Not counted (suspected fraud)")
        INVALIDATED = "invalidated", _("Removed by staff")

    class Connection(models.TextChoices):
        LIVES = "lives", _("I live in the area")
        WORKS = "works", _("I work in the area")
        STUDIES = "studies", _("I study in the area")

    # No index of its own: three of the indexes below lead with the petition. Every index costs
    # each signature three entries (its insert, the email sent, the confirmation: each update
    # touches an indexed column), so there is none the queries do not use.
    petition = models.ForeignKey(
        Petition, on_delete=models.CASCADE, related_name="signatures", db_index=False
    )
    name = models.CharField(_("name"), max_length=100, validators=_line)
    email = models.EmailField(_("email address"), max_length=254)
    normalised_email = models.CharField(max_length=254)
    postcode = models.CharField(_("postcode"), max_length=8)
    ward = models.ForeignKey("places.Ward", null=True, on_delete=models.SET_NULL, related_name="+")
    connection = models.CharField(max_length=8, choices=Connection, default=Connection.LIVES)
    notify = models.BooleanField(_("email me about this petition"), default=False)
    state = models.CharField(max_length=12, choices=State, default=State.PENDING)
    creator = models.BooleanField(default=False)
    sponsor = models.BooleanField(default=False)
    token_hash = models.CharField(max_length=64)  # unique: a constraint, as no LIKE looks it up
    # The confirmation link is an HMAC of this random value under the secret key, so the email
    # job can make it from the row (the database alone cannot: it holds neither the key nor the
    # link, only the link's hash above). Empty for signatures made before links were derived.
    link_nonce = models.CharField(max_length=32, blank=True, default="")
    # The email this signature still waits for ("sign" or "creator"), cleared once sent: the
    # signatures table is the email queue (see services.signature_emails_send).
    email_due = models.CharField(max_length=8, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["petition", "normalised_email"], name="petitions_one_signature_per_email"
            ),
            # A constraint rather than unique=True, which on PostgreSQL also builds a second
            # (pattern) index for LIKE queries on the column.
            models.UniqueConstraint(fields=["token_hash"], name="petitions_signature_token"),
        ]
        indexes = [
            models.Index(fields=["petition", "ip_address", "created_at"]),
            models.Index(fields=["petition", "state", "ward"]),
            models.Index(
                fields=["id"], condition=~models.Q(email_due=""), name="petitions_email_due"
            ),
        ]

    def __str__(self) -> str:
        return f"signature {self.pk} on petition {self.petition_id}"


class BlockRule(models.Model):
    """Block or allow signatures by IP address, email domain or email address."""

    class Kind(models.TextChoices):
        IP = "ip", _("IP address")
        DOMAIN = "domain", _("Email domain")
        EMAIL = "email", _("Email address")

    class Action(models.TextChoices):
        BLOCK = "block", _("Block (signatures are not counted)")
        ALLOW = "allow", _("Allow (no rate limit)")

    kind = models.CharField(max_length=6, choices=Kind)
    value = models.CharField(max_length=254)
    action = models.CharField(max_length=5, choices=Action)
    note = models.CharField(max_length=200, blank=True, validators=_line)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="petitions_block_rule_once")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.value}"


from .surveys.models import (  # noqa: E402, F401  (Django finds the consultations' models here)
    Answer,
    AnswerTheme,
    Consultation,
    Document,
    EqualityRecord,
    Question,
    Response,
    Section,
    Theme,
    Version,
)
