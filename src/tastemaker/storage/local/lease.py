"""A lease on one machine: an exclusive ``flock`` on ``<data_dir>/leases/<name>.lock``.

The embedded deployment's :class:`~tastemaker.storage.protocols.Lease` (who retrains, who
applies retention). ``flock`` belongs to the open file, so two handles conflict whether
they live in one process (two engines, two threads) or in several workers sharing the data
dir; the kernel drops it when its holder dies, so no ttl is needed: renew only says whether
the handle still holds it. The holder writes its name into the file for :meth:`holder`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class LocalLease:
    """One handle on the lease ``name`` of ``data_dir``; ``owner`` is what :meth:`holder` tells others.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> a, b = LocalLease(root, "train", owner="node-a"), LocalLease(root, "train", owner="node-b")
    >>> a.acquire(), b.acquire(), b.holder(), a.renew(), b.release(), a.release(), b.acquire()
    (True, False, 'node-a', True, False, True, True)
    >>> b.release()
    True
    """

    def __init__(self, data_dir: Path | str, name: str, owner: str = ""):
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"a lease name is a plain file name, not {name!r}")
        self.path = Path(data_dir) / "leases" / f"{name}.lock"
        self.owner = owner or f"pid {os.getpid()}"
        self._fd: int | None = None
        self._lock = threading.Lock()  # one handle may be used from several threads

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (True also when this handle already holds it)."""
        with self._lock:
            if self._fd is not None:
                return True
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.owner.encode(), 0)
            self._fd = fd
            return True

    def renew(self) -> bool:
        """Whether this handle still holds it (a flock does not expire while its holder lives)."""
        return self._fd is not None

    def release(self) -> bool:
        """Give it back; False when this handle did not hold it."""
        with self._lock:
            if self._fd is None:
                return False
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)  # no stale name for the next reader
            os.close(fd)  # closing the file drops the flock
            return True

    def holder(self) -> str | None:
        """The owner name of whoever holds it now (None: free)."""
        if self._fd is not None:
            return self.owner
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # held: its holder wrote its name after locking
                return os.pread(fd, 4096, 0).decode(errors="replace") or "unknown"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
