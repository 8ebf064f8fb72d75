"""The project's Celery task wrapper and the one way to queue a task.

Tasks take primary keys, re-fetch, call a service and are idempotent (safe to retry). They are
queued with :func:`enqueue`, which waits for the surrounding transaction to commit so that a
worker never sees a row that is not there yet.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from celery import shared_task  # noqa: TID251
from django.db import transaction


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
    instead of a broker message. The job must call :func:`drain_started` before it reads the
    rows: a row committed before that is read by this run; a row committed after it queues the
    next run. A scheduled run of the same job (Celery beat) sweeps up anything a lost message
    left behind.
    """

    def claim() -> None:
        from django.core.cache import cache

        if cache.add(_drain_key(task_fn), 1, timeout=_DRAIN_CLAIM_SECONDS):
            task_fn.delay()

    transaction.on_commit(claim)


def drain_started(task_fn: Any) -> None:
    """Called by a draining job first: rows committed from now on queue another run."""
    from django.core.cache import cache

    cache.delete(_drain_key(task_fn))


# A claim whose run never started (a lost message) lapses after this long; the next row queues a
# run again.
_DRAIN_CLAIM_SECONDS = 60


def _drain_key(task_fn: Any) -> str:
    return f"tasks:drain:{task_fn.name}"
