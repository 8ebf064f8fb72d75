"""Meetings, their agendas and documents, and the record of each live stream.

A meeting's status moves scheduled → live ⇄ adjourned → ended → archived, only through
:mod:`webcast.services`. The ingest (ffmpeg under the supervisor) leaves a row per ffmpeg run
(:class:`IngestRun`, each with its own safety-recording file, never reused) and a row per
unplanned interruption (:class:`IngestGap`).
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from engagement.core.validators import validate_no_control_characters, validate_single_line

_line = [validate_single_line]
_text = [validate_no_control_characters]


class Meeting(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        ADJOURNED = "adjourned", _("Adjourned")
        ENDED = "ended", _("Ended")
        ARCHIVED = "archived", _("Archived")

    class Source(models.TextChoices):
        RTMP = "rtmp", _("RTMP push from an encoder (OBS, a hardware encoder)")
        PULL = "pull", _("Pull from a camera or server (RTSP, SRT or HLS URL)")
        TEST = "test", _("Rehearsal test pattern and tone")

    committee = models.ForeignKey(
        "people.Committee",
        verbose_name=_("committee"),
        on_delete=models.PROTECT,
        related_name="meetings",
    )
    title = models.CharField(_("title"), max_length=200, validators=_line)
    starts_at = models.DateTimeField(_("starts at"))
    venue = models.CharField(_("venue"), max_length=200, blank=True, validators=_line)
    description = models.TextField(_("description"), blank=True, max_length=4000, validators=_text)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    source = models.CharField(
        _("video source"), max_length=8, choices=Source.choices, default=Source.RTMP
    )
    pull_url = models.CharField(
        _("camera or server URL"), max_length=500, blank=True, validators=_line
    )
    stream_key = models.CharField(max_length=64, blank=True, editable=False)
    ladder = models.CharField(
        _("renditions for pushed streams"),
        max_length=40,
        default="720,480,240",
        help_text=_("Heights of the video renditions, largest first, such as 720,480,240."),
        validators=_line,
    )
    ingest_enabled = models.BooleanField(_("stream running"), default=False)
    went_live_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    current_item = models.ForeignKey(
        "AgendaItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_speaker = models.CharField(max_length=150, blank=True)
    current_speaker_role = models.CharField(max_length=20, blank=True)
    health = models.JSONField(default=dict, blank=True)
    health_at = models.DateTimeField(null=True, blank=True)
    ingest_error = models.CharField(max_length=500, blank=True)
    archive_state = models.CharField(max_length=10, blank=True)
    archive_progress = models.PositiveSmallIntegerField(default=0)
    archive = models.JSONField(default=dict, blank=True)
    captions_at = models.DateTimeField(null=True, blank=True)
    captions_reminded_at = models.DateTimeField(null=True, blank=True)
    archive_removed_at = models.DateTimeField(null=True, blank=True)
    recordings_removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["status", "starts_at"])]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")

    def __str__(self) -> str:
        return f"{self.committee.name}: {self.title}" if self.committee_id else self.title

    def get_absolute_url(self) -> str:
        return reverse("webcast:meeting", kwargs={"pk": self.pk})

    @property
    def is_on_air(self) -> bool:
        return self.status in {self.Status.LIVE, self.Status.ADJOURNED}

    @property
    def stream(self) -> str:
        return f"meeting.{self.pk}"

    @property
    def control_stream(self) -> str:
        return f"webcast-control.{self.pk}"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    number = models.CharField(_("number"), max_length=10, validators=_line)
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(_("title"), max_length=300, validators=_line)
    description = models.TextField(_("description"), blank=True, max_length=4000, validators=_text)
    subject_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject_id = models.CharField(max_length=40, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")

    class Meta:
        ordering = ["meeting", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "number"], name="unique_agenda_number")
        ]
        verbose_name = _("agenda item")
        verbose_name_plural = _("agenda items")

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"

    @property
    def anchor(self) -> str:
        return f"item-{self.pk}"


def _document_path(instance: "AgendaDocument", filename: str) -> str:
    return f"webcast/documents/{instance.item.meeting_id}/{filename}"


class AgendaDocument(models.Model):
    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("title"), max_length=200, validators=_line)
    file = models.FileField(_("PDF file"), upload_to=_document_path, max_length=300)
    size = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "pk"]
        verbose_name = _("agenda document")
        verbose_name_plural = _("agenda documents")

    def __str__(self) -> str:
        return self.title


class ItemMark(models.Model):
    """ "Now on item N": when the meeting reached an item (an item may be taken more than once)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="item_marks")
    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="marks")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["meeting", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.item} at {self.at:%H:%M:%S}"


class SpeakerMark(models.Model):
    class Role(models.TextChoices):
        COUNCILLOR = "councillor", _("Councillor")
        OFFICER = "officer", _("Officer")
        PUBLIC = "public", _("Public speaker")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="speaker_marks")
    at = models.DateTimeField()
    name = models.CharField(max_length=150, validators=_line)
    role = models.CharField(max_length=20, choices=Role.choices)
    councillor = models.ForeignKey(
        "people.Councillor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["meeting", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%H:%M:%S}"


class IngestRun(models.Model):
    """One ffmpeg process of a meeting's stream, with its own safety-recording file."""

    class Mode(models.TextChoices):
        PROGRAMME = "programme", _("Programme")
        SLATE = "slate", _("Adjournment slate")
        REHEARSAL = "rehearsal", _("Rehearsal")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.PROGRAMME)
    started_at = models.DateTimeField()
    first_frame_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    recording = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["meeting", "number"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "number"], name="unique_ingest_run")
        ]

    def __str__(self) -> str:
        return f"run {self.number}"


class IngestGap(models.Model):
    """An unplanned interruption: ffmpeg died (or the input dropped) and was restarted."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="gaps")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["meeting", "started_at"]

    def __str__(self) -> str:
        return f"gap from {self.started_at:%H:%M:%S}"

    @property
    def seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Viewer(models.Model):
    """Someone watching a live meeting: a random token from their browser and when it last said
    so (no address, no account). Counted for the control room; deleted when the meeting ends."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="viewers")
    token = models.CharField(max_length=64)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "token"], name="unique_meeting_viewer")
        ]
        indexes = [models.Index(fields=["meeting", "last_seen"])]

    def __str__(self) -> str:
        return f"viewer of {self.meeting_id}"


class ArchiveRetention(models.Model):
    """How long recordings are kept: one council-wide row (no committee) and a row for each
    committee with its own archive period. See :mod:`webcast.retention`."""

    committee = models.OneToOneField(
        "people.Committee",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="archive_retention",
    )
    archive_months = models.PositiveSmallIntegerField(
        _("keep archives for (months)"), null=True, blank=True
    )
    recording_days = models.PositiveSmallIntegerField(
        _("keep safety recordings for (days)"), default=90
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(  # one council-wide row (NULLs would not clash)
                Coalesce("committee", models.Value(0)), name="one_archive_retention_per_scope"
            )
        ]

    def __str__(self) -> str:
        return f"retention for {self.committee or 'the council'}"
