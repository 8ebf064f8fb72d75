"""Consultations (surveys), after Citizen Space and Decidim's forms.

Lifecycle: a consultation is a *draft* until staff publish it; published, it is *forthcoming*
before ``opens_at``, *open* until ``closes_at``, then *closed*, and *outcome published* once
staff publish "We asked, you said, we did". The phase is computed from those dates, so nothing
has to flip it on time.

Questions belong to a :class:`Version` of the questionnaire. Once a version has a response its
questions are frozen: staff change them only by making a new version (a copy), so every stored
answer keeps the question it answered. A :class:`Response` is a draft (being filled in, held in
``draft`` as cleaned values keyed by question key) until it is submitted, when its answers are
written as :class:`Answer` rows. Equality-monitoring answers go to :class:`EqualityRecord`, kept
apart: nothing links them to the response.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.core.i18n import localised
from engagement.core.validators import (
    validate_no_control_characters,
    validate_no_markup,
    validate_single_line,
)

_line = [validate_single_line, validate_no_markup]
_text = [validate_no_control_characters, validate_no_markup]


class Consultation(models.Model):
    class Phase(models.TextChoices):
        DRAFT = "draft", _("Draft")
        FORTHCOMING = "forthcoming", _("Forthcoming")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")
        OUTCOME = "outcome", _("Outcome published")

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        WARDS = "wards", _("Residents of chosen wards")

    class Layout(models.TextChoices):
        QUESTION = "question", _("One question per page")
        SECTION = "section", _("One page per section")

    title = models.CharField(_("title"), max_length=150, validators=_line)
    title_cy = models.CharField(_("title (Welsh)"), max_length=150, blank=True, validators=_line)
    slug = models.SlugField(_("web address"), max_length=80, unique=True)
    summary = models.TextField(
        _("plain-language summary"),
        max_length=1000,
        validators=_text,
        help_text=_("What is proposed and why, in plain words. This is “We asked”."),
    )
    summary_cy = models.TextField(
        _("summary (Welsh)"), max_length=1000, blank=True, validators=_text
    )
    description = models.TextField(_("more detail"), max_length=10000, blank=True, validators=_text)
    description_cy = models.TextField(
        _("more detail (Welsh)"), max_length=10000, blank=True, validators=_text
    )
    audience = models.CharField(
        _("who may respond"), max_length=8, choices=Audience, default=Audience.EVERYONE
    )
    wards = models.ManyToManyField(
        "places.Ward", blank=True, related_name="+", verbose_name=_("wards")
    )
    layout = models.CharField(
        _("how questions are shown"), max_length=8, choices=Layout, default=Layout.QUESTION
    )
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    published_at = models.DateTimeField(null=True, blank=True)
    retention_days = models.PositiveIntegerField(
        _("days after the close before respondents are anonymised"),
        default=365,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
    )
    you_said = models.TextField(_("you said"), blank=True, validators=_text)
    you_said_cy = models.TextField(_("you said (Welsh)"), blank=True, validators=_text)
    we_did = models.TextField(_("we did"), blank=True, validators=_text)
    we_did_cy = models.TextField(_("we did (Welsh)"), blank=True, validators=_text)
    outcome_published_at = models.DateTimeField(null=True, blank=True)
    current_version = models.ForeignKey(
        "Version", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    response_count = models.PositiveIntegerField(default=0)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opens_at", "-pk"]
        indexes = [models.Index(fields=["published_at", "opens_at", "closes_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("consultations:detail", kwargs={"slug": self.slug})

    def phase_at(self, now) -> str:
        if self.published_at is None:
            return self.Phase.DRAFT
        if self.outcome_published_at is not None:
            return self.Phase.OUTCOME
        if now < self.opens_at:
            return self.Phase.FORTHCOMING
        if now < self.closes_at:
            return self.Phase.OPEN
        return self.Phase.CLOSED

    @property
    def phase(self) -> str:
        return self.phase_at(timezone.now())

    def get_phase_display(self) -> str:
        return self.Phase(self.phase).label

    @property
    def is_open(self) -> bool:
        return self.phase == self.Phase.OPEN

    @property
    def display_title(self) -> str:
        return localised(self.title, self.title_cy)

    @property
    def display_summary(self) -> str:
        return localised(self.summary, self.summary_cy)

    @property
    def display_description(self) -> str:
        return localised(self.description, self.description_cy)

    @property
    def display_you_said(self) -> str:
        return localised(self.you_said, self.you_said_cy)

    @property
    def display_we_did(self) -> str:
        return localised(self.we_did, self.we_did_cy)


class Document(models.Model):
    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(_("title"), max_length=150, validators=_line)
    title_cy = models.CharField(_("title (Welsh)"), max_length=150, blank=True, validators=_line)
    file = models.FileField(_("PDF file"), upload_to="consultations/documents/")
    size = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def display_title(self) -> str:
        return localised(self.title, self.title_cy)


class Version(models.Model):
    """One version of a consultation's questionnaire; frozen once it has a response."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveSmallIntegerField(default=1)
    note = models.CharField(_("what changed"), max_length=200, blank=True, validators=_line)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["consultation", "number"], name="surveys_version_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consultation} v{self.number}"


class Section(models.Model):
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(_("title"), max_length=150, validators=_line)
    title_cy = models.CharField(_("title (Welsh)"), max_length=150, blank=True, validators=_line)
    intro = models.TextField(_("introduction"), max_length=2000, blank=True, validators=_text)
    intro_cy = models.TextField(
        _("introduction (Welsh)"), max_length=2000, blank=True, validators=_text
    )
    equality = models.BooleanField(
        _("equality monitoring"),
        default=False,
        help_text=_(
            "Answers here are optional, kept apart from the response and reported only in total."
        ),
    )
    condition = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def display_title(self) -> str:
        return localised(self.title, self.title_cy)

    @property
    def display_intro(self) -> str:
        return localised(self.intro, self.intro_cy)


class Question(models.Model):
    class Kind(models.TextChoices):
        SHORT_TEXT = "short_text", _("Short text")
        LONG_TEXT = "long_text", _("Long text")
        SINGLE = "single", _("Single choice")
        MULTIPLE = "multiple", _("Multiple choice")
        DROPDOWN = "dropdown", _("Dropdown")
        RANKING = "ranking", _("Ranking")
        MATRIX = "matrix", _("Matrix (Likert)")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        POSTCODE = "postcode", _("Postcode")
        EMAIL = "email", _("Email address")
        CONSENT = "consent", _("Consent")
        FILE = "file", _("File upload")

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=40)
    kind = models.CharField(_("type"), max_length=12, choices=Kind)
    text = models.CharField(_("question"), max_length=300, validators=_line)
    text_cy = models.CharField(_("question (Welsh)"), max_length=300, blank=True, validators=_line)
    help_text = models.TextField(_("hint"), max_length=1000, blank=True, validators=_text)
    help_text_cy = models.TextField(
        _("hint (Welsh)"), max_length=1000, blank=True, validators=_text
    )
    required = models.BooleanField(_("an answer is required"), default=False)
    options = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True)
    min_choices = models.PositiveSmallIntegerField(null=True, blank=True)
    max_choices = models.PositiveSmallIntegerField(null=True, blank=True)
    min_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    max_length = models.PositiveIntegerField(null=True, blank=True)
    condition = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def display_text(self) -> str:
        return localised(self.text, self.text_cy)

    @property
    def display_help(self) -> str:
        return localised(self.help_text, self.help_text_cy)

    @property
    def choices(self) -> list[tuple[str, str]]:
        """``[(value, label in the page's language)]`` of the options."""
        return [(o["value"], localised(o["label"], o.get("label_cy", ""))) for o in self.options]

    @property
    def row_choices(self) -> list[tuple[str, str]]:
        return [(r["value"], localised(r["label"], r.get("label_cy", ""))) for r in self.rows]


class Response(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("In progress")
        SUBMITTED = "submitted", _("Submitted")

    class Channel(models.TextChoices):
        ONLINE = "online", _("Online")
        POST = "post", _("Post")
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        IMPORT = "import", _("Imported from a file")

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="responses"
    )
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="responses")
    state = models.CharField(max_length=10, choices=State, default=State.DRAFT)
    channel = models.CharField(max_length=6, choices=Channel, default=Channel.ONLINE)
    submission_token = models.CharField(max_length=64, unique=True)
    reference = models.CharField(max_length=16, unique=True, null=True, blank=True)
    resume_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consultation_responses",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.EmailField(_("email address"), blank=True)
    wants_outcome = models.BooleanField(_("email me the outcome"), default=False)
    language = models.CharField(max_length=8, default="en-gb")
    """The language the respondent used: their emails are written in it."""
    ward = models.ForeignKey(
        "places.Ward", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    outcome_sent_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        indexes = [
            models.Index(fields=["consultation", "state", "submitted_at"]),
            models.Index(fields=["state", "updated_at"]),
        ]

    def __str__(self) -> str:
        return self.reference or f"draft {self.pk}"


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField()
    text = models.TextField(blank=True)
    """The answer as plain text (free-text questions): what themes are tagged on and searched."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="surveys_one_answer_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"answer {self.pk}"


class EqualityRecord(models.Model):
    """Equality-monitoring answers of one response, deliberately not linked to it."""

    consultation = models.ForeignKey(
        Consultation, on_delete=models.CASCADE, related_name="equality_records"
    )
    answers = models.JSONField(default=dict)
    created_on = models.DateField(default=timezone.localdate)

    def __str__(self) -> str:
        return f"equality record {self.pk}"


class Theme(models.Model):
    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="themes")
    name = models.CharField(_("theme"), max_length=80, validators=_line)
    description = models.CharField(_("description"), max_length=300, blank=True, validators=_line)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "name"], name="surveys_theme_once")
        ]

    def __str__(self) -> str:
        return self.name


class AnswerTheme(models.Model):
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="theme_tags")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="tags")
    tagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["answer", "theme"], name="surveys_tag_once")]

    def __str__(self) -> str:
        return f"{self.theme} on answer {self.answer_id}"
