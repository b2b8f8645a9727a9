"""The server's garbage-collector policy: thresholds and periodic freezing of survivors."""

from __future__ import annotations

import gc

import pytest

from tastemaker import heap


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    heap._Policy.enabled = False
    heap._Policy.pending = 0
    gc.unfreeze()


def test_note_applied_is_a_no_op_until_tuned(restore_gc) -> None:
    assert heap.note_applied(10 * heap.FREEZE_EVERY) is False


def test_tuned_process_freezes_survivors_every_n_events(restore_gc) -> None:
    heap.tune_collector()
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    frozen = gc.get_freeze_count()
    survivors = [[i] for i in range(1000)]  # tracked objects that stay alive
    assert heap.note_applied(heap.FREEZE_EVERY - 1) is False
    assert gc.get_freeze_count() == frozen
    assert heap.note_applied(1) is True
    assert gc.get_freeze_count() >= frozen + len(survivors)
    assert heap.note_applied(heap.FREEZE_EVERY - 1) is False  # the count starts again


def test_cyclic_garbage_is_collected_before_freezing(restore_gc) -> None:
    import weakref

    class Node:
        pass

    heap.tune_collector()
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector can free it
    alive = weakref.ref(a)
    del a, b
    heap.note_applied(heap.FREEZE_EVERY)
    assert alive() is None
