"""Social listening: sources polled on X, Mastodon and Bluesky, the posts they bring, the cases
those posts become, and the council's routing rules, gazetteer and response targets.

A post is stored once per network (a unique constraint on network and external id), so a
mention seen by two sources, or fetched twice after a crash, is one row. A post is *routed*
exactly once: ``Post.case`` is set in the same transaction that creates or joins the case, and
routing takes the post's row lock first (see ``social.services.post_route``).
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_no_markup, validate_single_line

_line = [validate_single_line]


def _label(choices: type[models.Choices], value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


class Network(models.TextChoices):
    X = "x", _("X")
    MASTODON = "mastodon", _("Mastodon")
    BLUESKY = "bluesky", _("Bluesky")


class Source(models.Model):
    """One query polled on one network: an account's mentions, or a search (keywords,
    hashtags). Each source keeps its own cursor (X ``since_id``, Mastodon ``min_id``, Bluesky
    the newest ``indexedAt`` seen) and its own health."""

    class Kind(models.TextChoices):
        MENTIONS = "mentions", _("Mentions of an account")
        SEARCH = "search", _("Search (keywords or hashtags)")

    class Health(models.TextChoices):
        NEW = "new", _("Not polled yet")
        OK = "ok", _("Working")
        RATE_LIMITED = "rate_limited", _("Rate limited, waiting")
        FAILING = "failing", _("Failing, backing off")
        DISABLED = "disabled", _("Switched off")

    name = models.CharField(_("name"), max_length=120, validators=_line)
    network = models.CharField(_("network"), max_length=20, choices=Network.choices)
    kind = models.CharField(_("what to read"), max_length=20, choices=Kind.choices)
    account = models.CharField(
        _("account"),
        max_length=200,
        validators=_line,
        help_text=_(
            "The account whose mentions are read, and that replies are posted as: an X user id,"
            " a Mastodon account or a Bluesky handle."
        ),
    )
    query = models.CharField(
        _("search terms"),
        max_length=500,
        blank=True,
        validators=_line,
        help_text=_("For a search: the keywords or hashtag, as the network's search takes them."),
    )
    secret = models.CharField(
        _("access token or app password"),
        max_length=500,
        blank=True,
        help_text=_("Kept on the server; never shown again after saving."),
    )
    enabled = models.BooleanField(_("polling"), default=True)
    cursor = models.CharField(max_length=1000, blank=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.NEW)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    posts_read = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network", "name"]
        verbose_name = _("listening source")
        verbose_name_plural = _("listening sources")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_network_display()})"


class Team(models.Model):
    """A council team cases can be routed to (waste, highways...). The triage team is
    democratic services: it gets what nothing else matched."""

    name = models.CharField(_("name"), max_length=120, unique=True, validators=_line)
    slug = models.SlugField(max_length=140, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="social_teams"
    )
    is_triage = models.BooleanField(_("triage queue"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class ListeningSettings(models.Model):
    """What the council decides about listening (one row): its own accounts to ignore,
    response targets in working hours, escalation and reply approval."""

    own_handles = models.TextField(
        _("the council's own accounts"),
        blank=True,
        help_text=_("One handle per line; their posts are never made into cases."),
    )
    first_response_hours = models.PositiveIntegerField(
        _("first response target (working hours)"), default=8
    )
    resolution_hours = models.PositiveIntegerField(
        _("resolution target (working hours)"), default=80
    )
    day_starts = models.TimeField(_("working day starts"), default=time(9, 0))
    day_ends = models.TimeField(_("working day ends"), default=time(17, 0))
    escalate_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("escalate missed targets to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    replies_need_approval = models.BooleanField(
        _("replies need approval by staff before they are posted"), default=False
    )
    publish_figures = models.BooleanField(
        _("publish response times to residents as open data"),
        default=False,
        help_text=_("At /inbox/response-times.json: counts and times only, no names of residents."),
    )

    class Meta:
        verbose_name = _("listening settings")
        verbose_name_plural = _("listening settings")

    def __str__(self) -> str:
        return str(_("Listening settings"))


class Label(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True, validators=_line)

    class Meta:
        ordering = ["name"]
        verbose_name = _("label")
        verbose_name_plural = _("labels")

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    class State(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting on the resident")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")
        URGENT = 4, _("Urgent")

    class Target(models.TextChoices):
        """Where routing sent the case. A later module adds its own kinds (a meeting's
        question queue) through ``social.routing.register_target``."""

        COUNCILLOR = "councillor", _("A councillor")
        TEAM = "team", _("A council team")
        TRIAGE = "triage", _("Triage")

    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NEW)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    target = models.CharField(max_length=30, default=Target.TRIAGE)
    owner = models.ForeignKey(
        "people.Councillor",
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_cases",
    )
    watchers = models.ManyToManyField(
        "people.Councillor", verbose_name=_("watchers"), blank=True, related_name="watched_cases"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    ward = models.ForeignKey(
        "places.Ward",
        verbose_name=_("ward"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_cases",
    )
    topic = models.CharField(_("topic"), max_length=80, blank=True)
    labels = models.ManyToManyField(Label, verbose_name=_("labels"), blank=True)
    network = models.CharField(max_length=20, choices=Network.choices)
    author_handle = models.CharField(max_length=200)
    author_id = models.CharField(max_length=200, blank=True)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_cases",
    )
    conversation_id = models.CharField(max_length=200, blank=True, db_index=True)
    summary = models.CharField(max_length=200)
    trace = models.JSONField(default=list)
    petition = models.ForeignKey(
        "consultations.Petition",
        verbose_name=_("petition"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_cases",
    )
    budget_project = models.ForeignKey(
        "budgets.Project",
        verbose_name=_("budget project"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_cases",
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["network", "author_handle"])]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"#{self.pk} {self.summary}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("social:case", kwargs={"pk": self.pk})

    # The inbox row is rendered for every routed case (its live event): these give what
    # ``get_state_display`` and the like give, without rebuilding and hashing every choice's
    # translated label on each call.
    @property
    def state_label(self) -> str:
        return _label(self.State, self.state)

    @property
    def priority_label(self) -> str:
        return _label(self.Priority, self.priority)

    @property
    def network_label(self) -> str:
        return _label(Network, self.network)

    @property
    def is_open(self) -> bool:
        return self.state in {self.State.NEW, self.State.OPEN, self.State.WAITING}

    @property
    def is_overdue(self) -> bool:
        now = timezone.now()
        if not self.is_open:
            return False
        if self.first_responded_at is None and self.first_response_due:
            return self.first_response_due < now
        return bool(self.resolution_due and self.resolution_due < now)


class Post(models.Model):
    network = models.CharField(max_length=20, choices=Network.choices)
    external_id = models.CharField(max_length=200)
    source = models.ForeignKey(Source, null=True, on_delete=models.SET_NULL, related_name="posts")
    author_id = models.CharField(max_length=200, blank=True)
    author_handle = models.CharField(max_length=200)
    author_name = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    posted_at = models.DateTimeField()
    fetched_at = models.DateTimeField(default=timezone.now)
    lon = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    in_reply_to_id = models.CharField(max_length=200, blank=True, db_index=True)
    conversation_id = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)
    raw = models.JSONField(default=dict)
    is_outbound = models.BooleanField(default=False)
    ignored = models.CharField(max_length=200, blank=True)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts"
    )
    routed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["posted_at"]
        constraints = [
            models.UniqueConstraint(fields=["network", "external_id"], name="unique_social_post")
        ]
        indexes = [
            # The posts waiting to be routed, oldest first: what a routing batch drains and
            # the poller counts for its back-pressure, without walking the routed ones.
            models.Index(
                fields=["id"],
                condition=models.Q(routed_at__isnull=True),
                name="social_post_unrouted",
            )
        ]
        verbose_name = _("post")
        verbose_name_plural = _("posts")

    def __str__(self) -> str:
        return f"{self.network}:{self.external_id}"


class LiveChange(models.Model):
    """A routed case waiting for its live event. Written in the routing transaction (so a case
    that exists always reaches the live inboxes, whatever dies when) and published, everything
    waiting at once, by ``tasks.publish_live`` about a second later: under a flood of posts
    each inbox gets one event a second, not one per routing batch."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    created = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"case {self.case_id} ({'new' if self.created else 'changed'})"


class CaseEvent(models.Model):
    """The case history: every post, reply, note and change, in order."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Case created")
        POST = "post", _("Post received")
        REPLY = "reply", _("Reply")
        NOTE = "note", _("Private note")
        STATE = "state", _("State changed")
        ASSIGN = "assign", _("Owner or team changed")
        PRIORITY = "priority", _("Priority changed")
        LABELS = "labels", _("Labels changed")
        MERGE = "merge", _("Merged")
        ESCALATED = "escalated", _("Escalated")
        LINK = "link", _("Linked")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"


class Reply(models.Model):
    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Waiting for approval")
        QUEUED = "queued", _("Sending")
        SENT = "sent", _("Posted")
        FAILED = "failed", _("Failed")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    in_reply_to = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="replies")
    text = models.TextField(validators=[validate_no_markup])
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    external_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Reply {self.pk} on case {self.case_id}"


class SavedReply(models.Model):
    title = models.CharField(_("title"), max_length=120, unique=True, validators=_line)
    text = models.TextField(_("text"), max_length=1000, validators=[validate_no_markup])

    class Meta:
        ordering = ["title"]
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")

    def __str__(self) -> str:
        return self.title


class RoutingRule(models.Model):
    """A topic rule: any of its keywords in a post sends the case to a councillor (the
    portfolio holder) or a team. Rules are tried in order; the first match wins."""

    name = models.CharField(_("topic"), max_length=80, validators=_line)
    keywords = models.TextField(
        _("keywords"), help_text=_("One word or phrase per line; matched as whole words.")
    )
    councillor = models.ForeignKey(
        "people.Councillor",
        verbose_name=_("send to councillor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("send to team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    priority = models.PositiveSmallIntegerField(
        _("case priority"), choices=Case.Priority.choices, default=Case.Priority.NORMAL
    )
    order = models.PositiveIntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip().lower() for k in self.keywords.splitlines() if k.strip()]


class WardRota(models.Model):
    """Who owns the next case in a multi-member ward (round robin); the others watch."""

    ward = models.OneToOneField("places.Ward", on_delete=models.CASCADE, related_name="+")
    last_owner = models.ForeignKey(
        "people.Councillor", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Rota for ward {self.ward_id}"


class GazetteerEntry(models.Model):
    class Kind(models.TextChoices):
        STREET = "street", _("Street")
        PLACE = "place", _("Place")

    name = models.CharField(_("name"), max_length=150, validators=_line)
    normalised = models.CharField(max_length=150, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STREET)
    ward = models.ForeignKey(
        "places.Ward", verbose_name=_("ward"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["normalised", "ward"], name="unique_gazetteer_name")
        ]
        verbose_name = _("gazetteer entry")
        verbose_name_plural = _("gazetteer entries")

    def __str__(self) -> str:
        return self.name


class SocialIdentity(models.Model):
    """A resident's verified account on a network, so their posts reach their ward."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="social_identities"
    )
    network = models.CharField(max_length=20, choices=Network.choices)
    handle = models.CharField(max_length=200)
    verified_at = models.DateTimeField(null=True, blank=True)
    code = models.CharField(max_length=20, blank=True, db_index=True)
    """Set while unverified: the resident posts it from the account to prove it is theirs."""
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "handle"], name="unique_social_identity")
        ]

    def __str__(self) -> str:
        return f"{self.handle} ({self.network})"
