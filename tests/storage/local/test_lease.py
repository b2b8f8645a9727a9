"""The embedded lease (a flock in the data dir): one holder among handles of one process and
among processes; the holder is named to the refused; a holder that dies frees it at once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from tastemaker.storage.local.lease import LocalLease

_ctx = mp.get_context("spawn")  # a fresh interpreter: nothing shared with the test but the file


def test_two_handles_in_one_process_exclude_each_other_and_the_holder_is_named(tmp_path: Path):
    a, b = LocalLease(tmp_path, "train", owner="node-a"), LocalLease(tmp_path, "train", owner="node-b")
    assert b.holder() is None
    assert a.acquire() is True and a.acquire() is True  # taking it again is holding it
    assert b.acquire() is False and b.holder() == "node-a"
    assert b.release() is False and a.renew() is True and b.renew() is False
    assert a.release() is True and a.holder() is None and b.holder() is None
    assert b.acquire() is True and a.holder() == "node-b"
    assert b.release() is True


def test_leases_of_other_names_or_data_dirs_are_independent(tmp_path: Path):
    a = LocalLease(tmp_path / "one", "train")
    assert a.acquire()
    assert LocalLease(tmp_path / "one", "retention").acquire()
    assert LocalLease(tmp_path / "two", "train").acquire()
    assert a.release()


@pytest.mark.parametrize("bad", ["", "../x", ".hidden", "a/b"])
def test_a_name_that_is_no_plain_file_name_is_refused(tmp_path: Path, bad: str):
    with pytest.raises(ValueError, match="plain file name"):
        LocalLease(tmp_path, bad)


def _hold(root: str, held, stop) -> None:
    lease = LocalLease(root, "train", owner="child")
    held.put(lease.acquire())
    stop.wait()


def test_a_holder_process_that_dies_frees_the_lease(tmp_path: Path):
    held, stop = _ctx.Queue(), _ctx.Event()
    child = _ctx.Process(target=_hold, args=(str(tmp_path), held, stop))
    child.start()
    try:
        assert held.get(timeout=60) is True
        contender = LocalLease(tmp_path, "train", owner="parent")
        assert contender.acquire() is False and contender.holder() == "child"
    finally:
        child.kill()  # no release: the kernel drops the flock with the process
        child.join(60)
    assert contender.acquire() is True and contender.holder() == "parent"
    assert contender.release() is True


def test_docstring_examples_run():
    import doctest

    import tastemaker.storage.local.lease as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
