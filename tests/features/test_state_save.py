"""OnlineState.save when the write fails: the old snapshot stays, no temp file is left."""

from __future__ import annotations

import errno
import threading

import pytest

from tastemaker.features.state import OnlineState
from tastemaker.storage.local.artifacts import LocalArtifactStore

from ..small_fs import fill, small_filesystem

T0 = 1_700_000_000.0


def _state(n: int) -> OnlineState:
    state = OnlineState()
    for k in range(n):
        state.apply(k + 1, "view", f"u{k % 50}", None, [f"i{k % 300}"], None, T0 + k, None)
    return state


def test_a_failed_write_keeps_the_old_snapshot_and_leaves_no_temp(tmp_path):
    path = tmp_path / "state.snapshot"
    _state(10).save(LocalArtifactStore(tmp_path), "state.snapshot")
    good = path.read_bytes()
    broken = _state(20)
    broken.segments["poison"] = threading.Lock()  # pickling fails part-way through the write
    with pytest.raises(TypeError):
        broken.save(LocalArtifactStore(tmp_path), "state.snapshot")
    assert path.read_bytes() == good
    assert list(tmp_path.iterdir()) == [path]


def test_a_full_disk_keeps_the_old_snapshot_and_leaves_no_temp(tmp_path):
    with small_filesystem(tmp_path / "small", size_mb=2) as mount:
        path = mount / "state.snapshot"
        _state(10).save(LocalArtifactStore(mount), "state.snapshot")
        good = path.read_bytes()
        fill(mount)
        with pytest.raises(OSError) as caught:
            _state(5_000).save(LocalArtifactStore(mount), "state.snapshot")  # bigger than what is left
        assert caught.value.errno == errno.ENOSPC
        assert path.read_bytes() == good
        assert sorted(p.name for p in mount.iterdir()) == ["filler.bin", "state.snapshot"]
