"""Streams of events with a sequence number each, kept in the database for backfill."""

from django.db import models


class StreamCounter(models.Model):
    """The last sequence number handed out on a stream (row-locked while incrementing)."""

    stream = models.CharField(max_length=90, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stream}@{self.last_seq}"


class StreamEvent(models.Model):
    """One event as delivered: a rendered HTML fragment (for htmx) and a JSON payload.

    ``html`` is the fragment in the default language (``LANGUAGE_CODE``); ``html_translations``
    holds it in each other configured language where it differs (``{"cy": "..."}``), so every
    viewer gets the event in the language of its page, whoever published it.
    """

    stream = models.CharField(max_length=90)
    seq = models.PositiveBigIntegerField()
    event = models.CharField(max_length=60)
    payload = models.JSONField(default=dict, blank=True)
    html = models.TextField(blank=True)
    html_translations = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="unique_stream_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.stream}#{self.seq} {self.event}"

    def html_in(self, language: str) -> str:
        """The fragment in ``language`` (the default language's where it is the same)."""
        return self.html_translations.get(language, self.html)
