"""Publishing real-time events: the one helper every module uses.

A service changes the database, then calls :func:`publish` inside the same transaction. The
event gets the stream's next sequence number and is stored; delivery to websocket clients
happens only after the transaction commits, so a client never sees something that was rolled
back, and a client that missed a message fetches it from the database by sequence number.

An event is rendered once per configured language (``settings.LANGUAGES``) by the publisher,
whatever language the publishing request or job runs in, and each viewer gets it in the
language of its page (see :mod:`engagement.realtime.hub`).
"""

import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import translation

from . import publisher
from .models import StreamCounter, StreamEvent
from .streams import Render, group_name, snapshot_of, split

logger = logging.getLogger(__name__)


def _next_seq(stream: str) -> int:
    """The stream's next sequence number: one statement that creates the counter or increments
    it, holding its row lock until the caller's transaction ends (so numbers are handed out,
    and committed, one writer at a time)."""
    table = connection.ops.quote_name(StreamCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stream, last_seq) VALUES (%s, 1) "  # noqa: S608 - our table
            f"ON CONFLICT (stream) DO UPDATE SET last_seq = {table}.last_seq + 1 "
            "RETURNING last_seq",
            [stream],
        )
        return int(cursor.fetchone()[0])


def publish(
    *,
    stream: str,
    event: str,
    html: str = "",
    render: Render | None = None,
    payload: dict[str, Any] | None = None,
) -> StreamEvent:
    """Record ``event`` on ``stream`` and deliver it to the stream's group after commit.

    ``render`` returns the event's fragment and is called once per configured language, with
    that language active (read the database before, not inside it: see :func:`in_languages`);
    ``html`` is for a fragment with no words in it, the same in every language.
    """
    split(stream)  # validates the name
    if render is not None and html:
        raise TypeError("publish() takes html or render, not both")
    translations: dict[str, str] = {}
    if render is not None:
        html, translations = in_languages(render)
    with transaction.atomic():
        seq = _next_seq(stream)
        record = StreamEvent.objects.create(
            stream=stream,
            seq=seq,
            event=event,
            html=html,
            html_translations=translations,
            payload=payload or {},
        )
        message = message_for(record)
        transaction.on_commit(lambda: _deliver(stream, message))
    return record


def in_languages(render: Render) -> tuple[str, dict[str, str]]:
    """``render()`` in the default language, and in each other configured language where that
    differs. It runs once per language, so it should only render what was read before it."""
    default = settings.LANGUAGE_CODE
    with translation.override(default):
        html = render()
    translations = {}
    for language, _name in settings.LANGUAGES:
        if language != default:
            with translation.override(language):
                text = render()
            if text != html:
                translations[language] = text
    return html, translations


def publish_soon(*, stream: str) -> None:
    """Say that a counter stream changed; its snapshot is published within about a second.

    Fast-changing counters (turnout, signatures, viewers) are coalesced: however many changes
    happen in a tick, one event carries the state at the end of it. The first change in a tick
    queues the publishing job (after commit) with a countdown of one tick; the rest find the
    tick claimed, and once a process knows when the claimed job runs it skips even the claim's
    round trip to Redis until then (:func:`engagement.tasks.claim_run`): the snapshot, taken no
    earlier than the job's countdown, includes their changes.

    Where jobs run at once instead of being queued (``CELERY_TASK_ALWAYS_EAGER``: tests), there
    is never a job still to run that would carry this change, so every change publishes its
    snapshot: coalescing would otherwise lose the last state of a burst.
    """
    from django.conf import settings

    from engagement.tasks import claim_run

    split(stream)
    tick = settings.REALTIME_TICK_SECONDS

    def claim() -> None:
        from .tasks import publish_snapshot

        if publish_snapshot.app.conf.task_always_eager:
            publish_snapshot.apply(args=[stream])
        elif claim_run(f"realtime:soon:{stream}", countdown=tick, timeout=tick):
            publish_snapshot.apply_async(args=[stream], countdown=tick)

    transaction.on_commit(claim)


def snapshot_publish(*, stream: str) -> StreamEvent | None:
    """Publish the current snapshot of a counter stream (the job :func:`publish_soon` queues);
    None if the snapshot had nothing to say.

    The snapshot is read holding the stream's counter lock, so two jobs of one stream read and
    publish one after the other: a later event never carries an older state than the one
    before it (which matters most for a stream that sends only what changed)."""
    with transaction.atomic():
        _lock_counter(stream)
        taken = snapshot_of(stream)
        if taken is None:
            return None
        event, render, payload = taken
        return publish(stream=stream, event=event, render=render, payload=payload)


def _lock_counter(stream: str) -> None:
    """Hold the stream's counter row (made if missing) until the transaction ends."""
    table = connection.ops.quote_name(StreamCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stream, last_seq) VALUES (%s, 0) "  # noqa: S608 - our table
            f"ON CONFLICT (stream) DO UPDATE SET last_seq = {table}.last_seq",
            [stream],
        )


def message_for(record: StreamEvent) -> dict[str, Any]:
    return {
        "type": "stream.event",
        "stream": record.stream,
        "seq": record.seq,
        "event": record.event,
        "html": record.html,
        "html_translations": record.html_translations,
        "payload": record.payload,
    }


def _deliver(stream: str, message: dict[str, Any]) -> None:
    try:
        publisher.group_send(group_name(stream), message)
    except Exception:
        # The event is committed; clients recover it by sequence number on their next resume.
        logger.exception("Could not deliver %s#%s to the channel layer", stream, message["seq"])


def stream_events_prune(*, days: int) -> int:
    """Delete stored events older than ``days``. Counters stay, so numbering never restarts;
    a client that far behind is told to reload (it would be anyway)."""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = StreamEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
