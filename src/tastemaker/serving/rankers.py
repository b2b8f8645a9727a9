"""Per-placement learned rankers, loaded from ``<models dir>/rankers/<placement>.json``.

``tastemaker train-ranker`` writes a placement's file when its LambdaMART ranker beats
the blend on later impressions (:mod:`tastemaker.training.ranker_job`); servers pick the
new file up without a restart: :meth:`RankerSet.get` looks at a placement's file at most
once per ``check_every_s`` and reloads it when its modification time or size changed. An
unreadable file is logged and the previous ranker (or none) keeps serving.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from tastemaker.ranking.ltr import LTRRanker

log = logging.getLogger(__name__)


class _Entry:
    __slots__ = ("ranker", "stamp", "checked")

    def __init__(self) -> None:
        self.ranker: LTRRanker | None = None
        self.stamp: tuple[int, int] | None = None
        self.checked = -1e18


class RankerSet:
    """The learned rankers of the placements, by name, from files in ``directory``."""

    def __init__(self, directory: Path | str | None, check_every_s: float = 1.0):
        self.directory = None if directory is None else Path(directory)
        self.check_every_s = check_every_s
        self._entries: dict[str, _Entry] = {}

    def path(self, placement: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{placement}.json"

    def get(self, placement: str) -> LTRRanker | None:
        """The placement's ranker (None: none trained, or it did not beat the blend)."""
        if self.directory is None:
            return None
        entry = self._entries.get(placement)
        if entry is None:
            entry = self._entries[placement] = _Entry()
        now = time.monotonic()
        if now - entry.checked < self.check_every_s:
            return entry.ranker
        entry.checked = now
        path = self.path(placement)
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == entry.stamp:
            return entry.ranker
        if stamp is None:
            entry.ranker, entry.stamp = None, None
            return None
        try:
            entry.ranker = LTRRanker.load(path)
            entry.stamp = stamp
            log.info("serving learned ranker for placement %s (%s)", placement, path)
        except Exception as exc:  # a half-written or foreign file: keep what serves
            log.error("cannot load ranker %s, keeping the previous one: %s", path, exc)
        return entry.ranker

    def save(self, placement: str, ranker: LTRRanker) -> Path:
        """Write a placement's ranker atomically (servers see the whole file or the old one)."""
        path = self.path(placement)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{placement}-")
        os.close(fd)
        ranker.save(tmp)
        os.replace(tmp, path)
        self._entries.pop(placement, None)
        return path

    def remove(self, placement: str) -> bool:
        try:
            self.path(placement).unlink()
        except FileNotFoundError:
            return False
        self._entries.pop(placement, None)
        return True
