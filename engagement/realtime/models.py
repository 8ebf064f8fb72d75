"""Streams of events with a sequence number each, kept in the database for backfill."""

from django.db import models


class StreamCounter(models.Model):
    """The last sequence number handed out on a stream (row-locked while incrementing)."""

    stream = models.CharField(max_length=90, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stream}@{self.last_seq}"


class StreamEvent(models.Model):
    """One event as delivered: a rendered HTML fragment (for htmx) and a JSON payload."""

    stream = models.CharField(max_length=90)
    seq = models.PositiveBigIntegerField()
    event = models.CharField(max_length=60)
    payload = models.JSONField(default=dict, blank=True)
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="unique_stream_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.stream}#{self.seq} {self.event}"
