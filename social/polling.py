"""Polling the sources: one poll reads a source's new posts page by page, stores each page,
moves the cursor, and schedules its next poll.

* A poll first *claims* its source (``next_poll_at`` pushed past a lease, under a row lock),
  so beat, a second worker and ``manage.py poll_social`` never poll one source at once.
* Posts are stored before the cursor moves (:func:`social.services.posts_store` is
  idempotent), so a poll killed half way re-reads at worst, and never skips.
* A 429 schedules the next poll at the reset time the server gave; without one, at
  ``RATE_LIMIT_FALLBACK`` times the number of consecutive failures: never in a hot loop.
  (tweepy's own ``wait_on_rate_limit`` retries at once when the header is missing, so it is off.)
* 5xx, timeouts and connection errors back off exponentially with jitter; a permanent error
  (bad credentials, a bad query) backs off longer and says so in the source's health.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import services
from .clients import Permanent, PollError, RateLimited, Transient, adapter_for
from .models import Source

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
RATE_LIMIT_FALLBACK = timedelta(minutes=15)
BACKOFF_BASE = 30.0
BACKOFF_CAP = 60.0 * 60
PERMANENT_BACKOFF = timedelta(hours=1)
ROUTE_BATCH = 200
"""Posts per routing task: a page of X (100) goes in one."""
ROUTE_AHEAD = 200
"""Posts waiting to be routed beyond which a poll routes some itself before reading on."""
ROUTE_HELP = 100
"""How many of the oldest waiting posts a poll routes then (a page of X)."""


def poll_interval() -> timedelta:
    return timedelta(seconds=getattr(settings, "SOCIAL_POLL_INTERVAL_SECONDS", 120))


def backoff(failures: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: 30 s, 60 s, 120 s... up to an hour, each scaled by a
    random factor between 0.5 and 1.5 so failing sources do not retry in step."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))
    return timedelta(seconds=base * (0.5 + rng()))


@dataclass
class PollResult:
    source_id: int
    status: str
    fetched: int = 0
    new_post_ids: list[int] | None = None
    skipped: int = 0
    error: str = ""
    next_poll_at: datetime | None = None


def due_sources(now: datetime | None = None):
    now = now or timezone.now()
    return Source.objects.filter(enabled=True).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now)
    )


def _claim(source_id: int, now: datetime, *, force: bool) -> Source | None:
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(pk=source_id, enabled=True).first()
        if source is None:
            return None
        if not force and source.next_poll_at is not None and source.next_poll_at > now:
            return None
        source.next_poll_at = now + LEASE
        source.last_polled_at = now
        source.save(update_fields=["next_poll_at", "last_polled_at"])
        return source


def source_poll(
    *,
    source_id: int,
    now: datetime | None = None,
    force: bool = False,
    adapter_factory: Callable[[Source], Any] = adapter_for,
    route: Callable[[list[int]], None] | None = None,
) -> PollResult:
    """Poll one source if it is due (or ``force``). New posts are handed to ``route`` (by
    default: queue a routing task for each, after commit)."""
    now = now or timezone.now()
    source = _claim(source_id, now, force=force)
    if source is None:
        return PollResult(source_id=source_id, status="not_due")
    route = route or _queue_routing
    result = PollResult(source_id=source_id, status="ok", new_post_ids=[])
    try:
        adapter = adapter_factory(source)
        for batch in adapter.fetch():
            new_ids = services.posts_store(source=source, posts=batch.posts)
            result.fetched += len(batch.posts)
            result.skipped += batch.skipped
            result.new_post_ids.extend(new_ids)
            if batch.cursor:
                Source.objects.filter(pk=source.pk).update(cursor=batch.cursor[:1000])
                source.cursor = batch.cursor[:1000]
            if new_ids:
                route(new_ids)
    except RateLimited as exc:
        failures = source.failures + 1
        wait_until = exc.reset_at
        if wait_until is None or wait_until <= timezone.now():
            wait_until = timezone.now() + RATE_LIMIT_FALLBACK * min(failures, 4)
        return _finish(source, result, Source.Health.RATE_LIMITED, str(exc), failures, wait_until)
    except Permanent as exc:
        return _finish(
            source,
            result,
            Source.Health.FAILING,
            str(exc),
            source.failures + 1,
            timezone.now() + PERMANENT_BACKOFF,
        )
    except (Transient, PollError) as exc:
        failures = source.failures + 1
        return _finish(
            source,
            result,
            Source.Health.FAILING,
            str(exc),
            failures,
            timezone.now() + backoff(failures),
        )
    except Exception as exc:  # a bug or a payload nobody expected: keep polling the others
        logger.exception("Polling source %s failed", source.pk)
        failures = source.failures + 1
        return _finish(
            source,
            result,
            Source.Health.FAILING,
            f"{type(exc).__name__}: {exc}"[:480],
            failures,
            timezone.now() + backoff(failures),
        )
    finished = timezone.now()
    Source.objects.filter(pk=source.pk).update(
        health=Source.Health.OK,
        last_ok_at=finished,
        last_error=(
            f"{result.skipped} malformed item(s) left out in the last poll"
            if result.skipped
            else ""
        ),
        failures=0,
        next_poll_at=finished + poll_interval(),
    )
    result.next_poll_at = finished + poll_interval()
    return result


def _finish(
    source: Source,
    result: PollResult,
    health: str,
    error: str,
    failures: int,
    next_poll_at: datetime,
) -> PollResult:
    Source.objects.filter(pk=source.pk).update(
        health=health, last_error=error[:500], failures=failures, next_poll_at=next_poll_at
    )
    logger.warning("Source %s: %s (next poll %s)", source.pk, error, next_poll_at.isoformat())
    result.status = health
    result.error = error
    result.next_poll_at = next_poll_at
    return result


def _queue_routing(post_ids: list[int]) -> None:
    """Queue a stored page's routing; and when routing has fallen behind (more than
    ``ROUTE_AHEAD`` posts wait), route the oldest waiting page's worth here before reading on.
    This is the poll's back-pressure: a flood is read no faster than it is routed, the polling
    process routes its share, oldest first, and the routing tasks drain the rest (see
    ``posts_route``), so posts never queue page after page behind each other."""
    from engagement.tasks import enqueue

    from .tasks import route_posts

    for start in range(0, len(post_ids), ROUTE_BATCH):
        enqueue(route_posts, post_ids[start : start + ROUTE_BATCH])
    if services.unrouted_count() > ROUTE_AHEAD:
        services.posts_route(post_ids=[], drain=ROUTE_HELP)


def route_now(post_ids: list[int]) -> None:
    """Route in this process (``poll_social`` without a worker, tests)."""
    for start in range(0, len(post_ids), ROUTE_BATCH):
        services.posts_route(post_ids=post_ids[start : start + ROUTE_BATCH])
