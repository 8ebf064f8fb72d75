"""Questions residents ask during a meeting, their votes, and how staff moderate them.

A question moves only through :mod:`webcast.questions.services`::

    pending ─▶ approved ─▶ answering ─▶ answered
       │  ╲        │ ╲
       ▼   ╲       ▼  ╲──▶ hidden (and back to approved)
    rejected ╲──▶ merged (into another question; its votes move there)

Under post-moderation a question starts approved. Every state change is a conditional update
(``WHERE state IN (...)``), so two moderators acting on one question at once cannot both win.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_no_control_characters, validate_single_line

MAX_LENGTH = 280


class QuestionSettings(models.Model):
    """How one meeting takes questions (made with the defaults the first time it is needed)."""

    class Moderation(models.TextChoices):
        PRE = "pre", _("Pre-moderation: staff approve each question before anyone sees it")
        POST = (
            "post",
            _("Post-moderation: questions appear at once; staff hide what breaks the rules"),
        )

    meeting = models.OneToOneField(
        "webcast.Meeting", on_delete=models.CASCADE, related_name="question_settings"
    )
    moderation = models.CharField(
        _("moderation"), max_length=4, choices=Moderation.choices, default=Moderation.PRE
    )
    accepting = models.BooleanField(_("taking questions"), default=True)
    closes_at = models.DateTimeField(
        _("stop taking questions at"),
        null=True,
        blank=True,
        help_text=_("Leave empty to take questions until the meeting ends."),
    )
    hashtag = models.CharField(
        _("hashtag for social media questions"),
        max_length=60,
        blank=True,
        validators=[validate_single_line],
        help_text=_("Such as #PlanningLive. Posts with it join the moderation queue."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("question settings")
        verbose_name_plural = _("question settings")

    def __str__(self) -> str:
        return f"questions of meeting {self.meeting_id}"


class FlagWord(models.Model):
    """A word or phrase that flags a question for a moderator's attention (council-wide)."""

    word = models.CharField(_("word or phrase"), max_length=60, unique=True)

    class Meta:
        ordering = ["word"]
        verbose_name = _("flag word")
        verbose_name_plural = _("flag words")

    def __str__(self) -> str:
        return self.word


class Question(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for moderation")
        APPROVED = "approved", _("Approved")
        ANSWERING = "answering", _("Now answering")
        ANSWERED = "answered", _("Answered")
        REJECTED = "rejected", _("Rejected")
        HIDDEN = "hidden", _("Hidden")
        MERGED = "merged", _("Merged")

    class Source(models.TextChoices):
        WEB = "web", _("This website")
        X = "x", _("X")
        MASTODON = "mastodon", _("Mastodon")
        BLUESKY = "bluesky", _("Bluesky")
        STAFF = "staff", _("Entered by staff")

    PUBLIC_STATES = (State.APPROVED, State.ANSWERING, State.ANSWERED)

    meeting = models.ForeignKey(
        "webcast.Meeting", on_delete=models.CASCADE, related_name="questions"
    )
    item = models.ForeignKey(
        "webcast.AgendaItem",
        verbose_name=_("agenda item"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questions",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="meeting_questions",
    )
    display_name = models.CharField(
        _("name shown"), max_length=60, blank=True, validators=[validate_single_line]
    )
    anonymous = models.BooleanField(_("shown as anonymous"), default=False)
    text = models.CharField(
        _("question"), max_length=MAX_LENGTH, validators=[validate_no_control_characters]
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    reject_reason = models.CharField(_("reason (staff only)"), max_length=500, blank=True)
    flags = models.CharField(max_length=200, blank=True)
    edited = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    external_id = models.CharField(max_length=200, blank=True)
    external_url = models.URLField(max_length=500, blank=True)
    external_author = models.CharField(max_length=200, blank=True)
    vote_count = models.PositiveIntegerField(default=0)
    # The count changed since the last votes snapshot took it (that snapshot carries only these).
    votes_dirty = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    answering_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["meeting", "-vote_count", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="unique_question_external",
            ),
        ]
        indexes = [models.Index(fields=["meeting", "state", "-vote_count"])]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def anchor(self) -> str:
        return f"question-{self.pk}"

    @property
    def is_public(self) -> bool:
        return self.state in self.PUBLIC_STATES

    @property
    def public_name(self) -> str:
        """The name residents see: never the account behind an anonymous question."""
        if self.anonymous or not self.display_name:
            return str(_("Anonymous"))
        return self.display_name


class Vote(models.Model):
    """One resident's upvote: one per question, by a database constraint."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="question_votes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "user"], name="unique_question_vote")
        ]

    def __str__(self) -> str:
        return f"vote on {self.question_id}"


class Ban(models.Model):
    """A participant who may not ask or vote in one meeting's questions (a person, or a social
    media author when the question came from there)."""

    meeting = models.ForeignKey("webcast.Meeting", on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="meeting_bans",
    )
    source = models.CharField(max_length=10, blank=True)
    external_author = models.CharField(max_length=200, blank=True)
    reason = models.CharField(_("reason (staff only)"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "user"],
                condition=Q(user__isnull=False),
                name="unique_meeting_ban_user",
            ),
            models.UniqueConstraint(
                fields=["meeting", "source", "external_author"],
                condition=~Q(external_author=""),
                name="unique_meeting_ban_external",
            ),
        ]

    def __str__(self) -> str:
        return f"ban in meeting {self.meeting_id}"
