import pytest
from django.db import transaction

from engagement.realtime.models import StreamEvent
from engagement.realtime.selectors import events_after, stream_position
from engagement.realtime.services import publish

pytestmark = pytest.mark.django_db


def test_each_stream_numbers_its_events_from_one():
    publish(stream="test.a", event="x", html="<p>1</p>")
    publish(stream="test.a", event="x", html="<p>2</p>")
    publish(stream="test.b", event="y", html="<p>b1</p>")

    assert [e.seq for e in events_after("test.a", 0)] == [1, 2]
    assert [e.seq for e in events_after("test.b", 0)] == [1]
    assert stream_position("test.a") == 2
    assert stream_position("test.never") == 0


def test_backfill_returns_only_what_the_client_missed_in_order():
    for n in range(1, 6):
        publish(stream="test.c", event="n", html=f"<p>{n}</p>", payload={"n": n})

    missed = events_after("test.c", 3)

    assert [(e.seq, e.payload["n"], e.html) for e in missed] == [
        (4, 4, "<p>4</p>"),
        (5, 5, "<p>5</p>"),
    ]


def test_an_event_rolled_back_with_its_transaction_leaves_no_trace_and_is_not_delivered(
    django_capture_on_commit_callbacks,
):
    def failing_service() -> None:
        with transaction.atomic():
            publish(stream="test.d", event="x")
            raise RuntimeError("the service failed after publishing")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        failing_service()

    assert callbacks == []
    assert StreamEvent.objects.filter(stream="test.d").count() == 0
    assert stream_position("test.d") == 0


def test_delivery_waits_for_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(stream="test.e", event="x")
    assert len(callbacks) == 1


@pytest.mark.parametrize("name", ["", "Bad", "has space", "a.b.c", "x" * 60, "test.<script>"])
def test_malformed_stream_names_are_refused(name):
    with pytest.raises(ValueError, match="Malformed stream name"):
        publish(stream=name, event="x")
    assert StreamEvent.objects.count() == 0


def _wait_for_events(stream: str, count: int, timeout: float = 10.0) -> list[StreamEvent]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events_after(stream, 0)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    return events_after(stream, 0)


@pytest.mark.django_db(transaction=True)
def test_counter_changes_within_a_tick_make_one_snapshot_and_a_later_change_another(settings):
    """With jobs queued to a real worker (not run at once, as elsewhere in the tests): a burst of
    changes makes one snapshot a tick later, carrying the state at the end of the burst."""
    import time

    from celery.contrib.testing.worker import start_worker

    from engagement.celery import app
    from engagement.realtime import streams
    from engagement.realtime.services import publish_soon

    state = {"n": 0}
    streams.register(
        "testcount",
        can_watch=streams.public,
        snapshot=lambda key: ("count", lambda: f"<p>{state['n']}</p>", {"n": state["n"]}),
    )
    # A whole second: the five changes must fall in one tick even on a loaded machine.
    settings.REALTIME_TICK_SECONDS = 1.0
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            for _ in range(5):
                state["n"] += 1
                publish_soon(stream="testcount.1")  # no transaction: "after commit" is now
            assert events_after("testcount.1", 0) == []  # not at once: a tick later
            found = _wait_for_events("testcount.1", 1)
            time.sleep(1.5)  # long enough for a second snapshot, had the burst queued one
            assert [e.payload for e in events_after("testcount.1", 0)] == [{"n": 5}]
            assert found[0].payload == {"n": 5}

            time.sleep(0.2)  # the claim in Redis (one tick) has expired by now
            state["n"] += 1
            publish_soon(stream="testcount.1")
            found = _wait_for_events("testcount.1", 2)
            assert [e.payload for e in found] == [{"n": 5}, {"n": 6}]
    finally:
        app.conf.task_always_eager = eager


def test_with_jobs_run_at_once_every_change_publishes_its_snapshot(
    django_capture_on_commit_callbacks,
):
    """Eager jobs (the test settings) have no pending job to coalesce with: each change
    publishes, so the last state of a burst is never lost."""
    from engagement.realtime import streams
    from engagement.realtime.services import publish_soon

    state = {"n": 0}
    streams.register(
        "testcount",
        can_watch=streams.public,
        snapshot=lambda key: ("count", lambda: f"<p>{state['n']}</p>", {"n": state["n"]}),
    )
    for _ in range(3):
        state["n"] += 1
        with django_capture_on_commit_callbacks(execute=True):
            publish_soon(stream="testcount.2")
    assert [e.payload for e in events_after("testcount.2", 0)] == [{"n": 1}, {"n": 2}, {"n": 3}]
