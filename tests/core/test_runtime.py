"""The garbage collector's tuning for server and worker processes."""

import gc

import pytest

from engagement.core.runtime import tune_garbage_collector


@pytest.fixture
def collector():
    """Put the collector back as it was after the test."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_freezes_the_heap_and_sets_the_thresholds(settings, collector):
    settings.GC_THRESHOLDS = (20_000, 20, 10)
    kept = [object() for _ in range(3)]  # noqa: F841 - alive while the heap is frozen
    tune_garbage_collector()
    assert gc.get_threshold() == (20_000, 20, 10)
    assert gc.get_freeze_count() > 0


def test_empty_thresholds_leave_the_collector_alone(settings, collector):
    settings.GC_THRESHOLDS = ()
    before = gc.get_threshold()
    tune_garbage_collector()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
