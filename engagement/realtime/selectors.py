"""Reads for stream backfill."""

from .models import StreamCounter, StreamEvent

BACKFILL_LIMIT = 500


def stream_position(stream: str) -> int:
    """The last sequence number on ``stream`` (0 if nothing was ever published)."""
    return (
        StreamCounter.objects.filter(stream=stream).values_list("last_seq", flat=True).first() or 0
    )


def events_after(stream: str, after: int, *, limit: int = BACKFILL_LIMIT) -> list[StreamEvent]:
    """Events with ``seq > after`` in order, at most ``limit`` + 1 (so callers detect overflow)."""
    return list(
        StreamEvent.objects.filter(stream=stream, seq__gt=after).order_by("seq")[: limit + 1]
    )
