from datetime import timedelta

import pytest
from django.utils import timezone

from engagement.audit.models import AuditEntry
from engagement.audit.services import audit_record
from engagement.core.tasks import prune_expired
from engagement.notifications.models import Notification
from engagement.realtime.models import StreamEvent
from engagement.realtime.selectors import stream_position
from engagement.realtime.services import publish
from engagement.tasks import task

pytestmark = pytest.mark.django_db


def test_prune_removes_only_what_is_past_its_retention(resident):
    long_ago = timezone.now() - timedelta(days=4000)
    old_entry = audit_record(actor=None, action="old.thing")
    AuditEntry.objects.filter(pk=old_entry.pk).update(at=long_ago)
    audit_record(actor=None, action="new.thing")
    old_event = publish(stream="test.prune", event="x")
    StreamEvent.objects.filter(pk=old_event.pk).update(created_at=long_ago)
    publish(stream="test.prune", event="y")
    sent = Notification.objects.create(
        user=resident,
        kind="account",
        subject="s",
        body="b",
        delivery="immediately",
        emailed_at=long_ago,
    )
    waiting = Notification.objects.create(
        user=resident, kind="updates", subject="s", body="b", delivery="daily"
    )
    Notification.objects.filter(pk__in=[sent.pk, waiting.pk]).update(created_at=long_ago)

    result = prune_expired()

    assert result == {"audit_entries": 1, "stream_events": 1, "notifications": 1}
    actions = sorted(AuditEntry.objects.values_list("action", flat=True))
    assert actions == ["audit.prune", "new.thing"]
    assert list(Notification.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert stream_position("test.prune") == 2  # numbering never restarts


def test_a_worker_registers_every_task_in_the_code_and_the_beat_schedule():
    """A worker knows only what Celery's autodiscovery imports; a task it does not know is dropped.
    A fresh interpreter, as a worker starts, so nothing the tests imported can hide a gap."""
    import ast
    import json
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    declared = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts[len(root.parts) :][:1]:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                (isinstance(d, ast.Name) and d.id == "task")
                or (isinstance(d, ast.Call) and getattr(d.func, "id", "") == "task")
                for d in node.decorator_list
            ):
                declared.add(f"{module}.{node.name}")
    declared |= {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "consultations.petitions.tasks.send_signature_email" in declared

    script = (
        "import django, json; django.setup();"
        "from engagement.celery import app; app.loader.import_default_modules();"
        "print(json.dumps(sorted(app.tasks)))"
    )
    run = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    registered = set(json.loads(run.stdout.strip().splitlines()[-1]))

    assert declared - registered == set()


_drain_runs: list[int] = []


@task
def _drain_probe() -> None:
    _drain_runs.append(1)


def test_a_drain_is_queued_once_until_it_starts(django_capture_on_commit_callbacks):
    """Busy paths ask for a drain per row; one run is queued until that run starts."""
    from engagement.tasks import drain_started, enqueue_drain

    _drain_runs.clear()
    drain_started(_drain_probe)  # no claim left from an earlier test
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_drain(_drain_probe)
        enqueue_drain(_drain_probe)
        assert _drain_runs == []  # only after commit
    assert _drain_runs == [1]  # the probe never calls drain_started: the claim still stands
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_drain(_drain_probe)
    assert _drain_runs == [1]
    drain_started(_drain_probe)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_drain(_drain_probe)
    assert _drain_runs == [1, 1]


def test_a_claimed_run_is_known_to_every_caller_until_it_may_start():
    """``claim_run``: the first caller queues; the others learn when the run starts and skip the
    round trip to Redis until shortly before then; afterwards the claim is tried again."""
    from django.core.cache import cache

    from engagement import tasks

    key = "tests:claim-run"
    cache.delete(key)
    tasks._queued_until.clear()
    assert tasks.claim_run(key, countdown=30, timeout=60) is True
    assert tasks.claim_run(key, countdown=30, timeout=60) is False
    cache.delete(key)  # this process knows the run is queued: it does not even ask
    assert tasks.claim_run(key, countdown=30, timeout=60) is False

    assert tasks.claim_run(key, countdown=30, timeout=60) is False
    tasks._queued_until.clear()  # another process, which knows of no run
    assert tasks.claim_run(key, countdown=30, timeout=60) is True  # the key was gone
    tasks._queued_until.clear()
    assert tasks.claim_run(key, countdown=30, timeout=60) is False  # the claim is taken...
    cache.delete(key)
    assert tasks.claim_run(key, countdown=30, timeout=60) is False  # ...and its time learnt

    # A run about to start (within the clocks' allowance) is never relied on.
    cache.delete(key)
    tasks._queued_until.clear()
    assert tasks.claim_run(key, countdown=tasks.CLOCK_ALLOWANCE_SECONDS / 2, timeout=60)
    cache.delete(key)
    assert tasks.claim_run(key, countdown=30, timeout=60) is True
    cache.delete(key)
    tasks._queued_until.clear()


_pending_rows: list[int] = []
_drained: list[list[int]] = []


@task
def _drain_rows() -> None:
    from engagement.tasks import drain_started

    drain_started(_drain_rows)
    _drained.append(sorted(_pending_rows))
    _pending_rows.clear()


def _wait_until(condition, seconds: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not run the drain in time"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_rows_of_several_processes_join_one_queued_drain_and_later_rows_queue_the_next():
    """With a real worker: rows committed while a drain run waits out its countdown are all
    taken by that run, whichever process committed them; a row after it started queues
    another run, and nothing is left behind."""
    from celery.contrib.testing.worker import start_worker
    from django.core.cache import cache

    from engagement import tasks
    from engagement.celery import app

    cache.delete(tasks._drain_key(_drain_rows))
    tasks._queued_until.clear()
    _pending_rows.clear()
    _drained.clear()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            for n in range(3):
                _pending_rows.append(n)
                tasks.enqueue_drain(_drain_rows)  # no transaction: "after commit" is now
            tasks._queued_until.clear()  # a second process, which has not heard of the run
            _pending_rows.append(3)
            tasks.enqueue_drain(_drain_rows)
            assert _drained == []  # not at once: after the countdown
            _wait_until(lambda: len(_drained) == 1)
            assert _drained == [[0, 1, 2, 3]]

            _pending_rows.append(4)
            tasks.enqueue_drain(_drain_rows)
            _wait_until(lambda: len(_drained) == 2)
            assert _drained == [[0, 1, 2, 3], [4]]
            assert _pending_rows == []
    finally:
        app.conf.task_always_eager = eager
        tasks._queued_until.clear()
