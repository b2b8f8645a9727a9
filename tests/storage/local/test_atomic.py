"""storage.local.atomic: the old file survives a failed write, and no temp file is left."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from tastemaker.storage.local import artifacts, atomic
from tastemaker.storage.local.atomic import atomic_write


@pytest.mark.parametrize("module", [atomic, artifacts])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_a_writer_that_fails_leaves_the_old_file_and_no_temp(tmp_path: Path):
    target = tmp_path / "state.snapshot"
    atomic_write(target, lambda fh: fh.write(b"old"))

    def fail(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.snapshot"]


def test_an_interrupted_write_leaves_no_zero_byte_file(tmp_path: Path):
    target = tmp_path / "new.bin"
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, lambda fh: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert list(tmp_path.iterdir()) == []
