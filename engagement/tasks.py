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
