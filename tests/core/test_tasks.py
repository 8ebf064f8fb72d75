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
