"""Artifacts as files under one directory (the data dir by default).

Every process on the machine (or sharing the directory over a network file system) sees the
same artifacts; the change signal is the file's modification time and size, one ``stat``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Callable

from tastemaker.storage.local.atomic import atomic_write


class LocalArtifactStore:
    """:class:`~tastemaker.storage.protocols.ArtifactStore` over a directory.

    >>> import tempfile
    >>> store = LocalArtifactStore(tempfile.mkdtemp())
    >>> store.put("models/a.pkl", b"x"); store.list("models/"), store.get("models/a.pkl")
    (['models/a.pkl'], b'x')
    """

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file of ``key``; refuses keys that would leave the root."""
        parts = key.split("/")
        if not key or "\\" in key or any(p in ("", "..", ".") for p in parts):
            raise ValueError(f"invalid artifact key {key!r}: a relative '/'-separated name without '..'")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        atomic_write(self.path(key), lambda fh: fh.write(data))

    def put_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        atomic_write(self.path(key), write)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO | None:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = []
        for dirpath, _, files in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # a write in progress
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def stamp(self, key: str) -> str | None:
        try:
            st = self.path(key).stat()
        except FileNotFoundError:
            return None
        return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"
