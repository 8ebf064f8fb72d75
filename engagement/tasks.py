"""The project's Celery task wrapper and the one way to queue a task.

Tasks take primary keys, re-fetch, call a service and are idempotent (safe to retry). They are
queued with :func:`enqueue`, which waits for the surrounding transaction to commit so that a
worker never sees a row that is not there yet.
"""

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from celery import shared_task  # noqa: TID251
from django.db import transaction

from engagement.core.memo import also_forget


def task(*args: Any, **options: Any) -> Any:
    """``shared_task`` with the project's defaults: late ack, requeued if the worker is lost,
    and retried with exponential backoff (up to about an hour) when it raises, so a passing
    outage (SMTP, Notify, the database) delays work rather than losing it. Tasks are idempotent,
    so a retry is always safe."""
    options.setdefault("acks_late", True)
    options.setdefault("reject_on_worker_lost", True)
    options.setdefault("autoretry_for", (Exception,))
    options.setdefault("retry_backoff", 30)
    options.setdefault("retry_backoff_max", 1800)
    options.setdefault("retry_jitter", True)
    options.setdefault("max_retries", 6)
    if args and callable(args[0]):
        return shared_task(**options)(args[0])
    return shared_task(*args, **options)


def enqueue(task_fn: Any, *args: Any, **kwargs: Any) -> None:
    """Queue ``task_fn.delay(*args, **kwargs)`` once the current transaction commits."""
    send: Callable[[], Any] = partial(task_fn.delay, *args, **kwargs)
    transaction.on_commit(send)


def enqueue_drain(task_fn: Any) -> None:
    """Queue ``task_fn`` (a job that drains a queue kept in the database: it takes every row due
    when it runs) after commit, unless a run is already queued and has not started yet.

    Busy paths call this once per row instead of queueing a job per row: one Redis round trip
    at most instead of a broker message, and usually none (:func:`claim_run`: the run is
    queued with a countdown of ``DRAIN_DELAY_SECONDS``, so until then every process that knows
    of it skips the claim). The job must call :func:`drain_started` before it reads the rows: a
    row committed before that is read by this run; a row committed after it queues the next
    run. A scheduled run of the same job (Celery beat) sweeps up anything a lost message left
    behind.
    """

    def claim() -> None:
        key = _drain_key(task_fn)
        if task_fn.app.conf.task_always_eager:
            # Run at once (tests): there is never a queued run to know of.
            from django.core.cache import cache

            if cache.add(key, 0, timeout=_DRAIN_CLAIM_SECONDS):
                task_fn.delay()
            return
        if claim_run(key, countdown=DRAIN_DELAY_SECONDS, timeout=_DRAIN_CLAIM_SECONDS):
            task_fn.apply_async(countdown=DRAIN_DELAY_SECONDS)

    transaction.on_commit(claim)


def drain_started(task_fn: Any) -> None:
    """Called by a draining job first: rows committed from now on queue another run."""
    from django.core.cache import cache

    cache.delete(_drain_key(task_fn))


# How long a drain run waits after it is queued (emails go out that much later): the window in
# which the rows of every process join it without a round trip to Redis.
DRAIN_DELAY_SECONDS = 0.5

# A claim whose run never started (a lost message) lapses after this long; the next row queues a
# run again.
_DRAIN_CLAIM_SECONDS = 60


def _drain_key(task_fn: Any) -> str:
    return f"tasks:drain:{task_fn.name}"


# Per process: for each claim key, the time (epoch seconds) before which its queued run will
# not start, as far as this process knows.
_queued_until: dict[str, float] = {}
also_forget(_queued_until.clear)

# Allowance for clocks that disagree: a run's countdown is an absolute time by the clock of the
# process that queued it, checked against the worker's.
CLOCK_ALLOWANCE_SECONDS = 0.1


def claim_run(key: str, *, countdown: float, timeout: float) -> bool:
    """Whether the caller is to queue a run (with ``countdown``) that takes in what it has just
    committed: False when a run is queued already and has not started.

    The claim is a cache key (``timeout``: until the run takes it over or it lapses) holding the
    time the claimed run starts at the earliest. This process remembers that time, whether it
    made the claim or read it after failing to: until shortly before then the run has certainly
    not started, so later callers in this process skip Redis altogether. The run must read what
    it works on no sooner than its countdown allows (a Celery countdown does)."""
    from django.core.cache import cache

    now = time.time()
    if now < _queued_until.get(key, 0.0) - CLOCK_ALLOWANCE_SECONDS:
        return False
    starts = now + countdown
    if cache.add(key, starts, timeout=timeout):
        _queued_until[key] = starts
        return True
    known = cache.get(key)
    if isinstance(known, int | float):
        _queued_until[key] = float(known)
    return False
