"""Byte-by-byte scan of a data dir for a user id: the check that an erasure left nothing.

Every regular file under the directory (SQLite databases with their WAL and shared-memory
files, snapshots, model artifacts, logs) is read in chunks that overlap by the longest
needle, so a match across a chunk boundary is found once. The needles are the id as UTF-8
and as UTF-16-LE (how some formats store text), and the unkeyed SHA-256 and MD5 hex digests
of the id: anyone holding the id can compute those, so they would identify the person as
surely as the id does. A keyed tombstone (privacy.tombstones) is not among them: it cannot
be computed without the deployment's secret key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 8 * 1024 * 1024


def needles(user_id: str) -> dict[str, bytes]:
    """What the scan looks for, by name.

    >>> sorted(needles("u1"))
    ['md5', 'sha256', 'utf-16-le', 'utf-8']
    """
    raw = user_id.encode()
    return {
        "utf-8": raw,
        "utf-16-le": user_id.encode("utf-16-le"),
        "sha256": hashlib.sha256(raw).hexdigest().encode(),
        "md5": hashlib.md5(raw).hexdigest().encode(),
    }


def count_in_file(path: Path, patterns: list[bytes]) -> int:
    """Occurrences of any of ``patterns`` in the file's bytes (overlapping chunks, no double count)."""
    keep = max(len(p) for p in patterns) - 1
    total = 0
    tail = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            window = tail + chunk
            for p in patterns:
                # count matches that end inside the new bytes only: those in ``tail`` alone were counted
                start = 0
                while (i := window.find(p, start)) >= 0:
                    if i + len(p) > len(tail):
                        total += 1
                    start = i + 1
            tail = window[-keep:] if keep else b""
    return total


def scan(root: Path | str, user_id: str) -> dict[str, int]:
    """``{relative path: occurrences}`` of the user's needles in every file under ``root``;
    files without any are left out, so an empty dict is a clean data dir."""
    root = Path(root)
    patterns = list(needles(user_id).values())
    found: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_file() or path.is_symlink():
                continue
            n = count_in_file(path, patterns)
            if n:
                found[str(path.relative_to(root))] = n
    return found
