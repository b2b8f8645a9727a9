"""A really full disk for tests: a small tmpfs mounted over a temporary directory.

Mounting needs root (or CAP_SYS_ADMIN); where it is refused, the test that asked is skipped
with the reason, and the portable tests (SQLite's ``max_page_count``, a database that is
really at its size limit) still cover the error mapping.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_filesystem(path: Path, size_mb: int = 16) -> Iterator[Path]:
    """Mount a ``size_mb`` tmpfs at ``path`` for the block; skip the test if mounting is refused."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a really full disk) needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the file system of ``directory`` with one file until a write fails with ENOSPC.

    With ``leave``, that many bytes are given back, so a small write still fits. Returns the
    filler; deleting it frees the space again.
    """
    filler = directory / "filler.bin"
    chunk = b"\0" * (64 << 10)
    with open(filler, "wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        fh.truncate(max(0, fh.tell() - leave))
    return filler
