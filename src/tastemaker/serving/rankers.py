"""Per-placement learned rankers, from the artifact store (``models/rankers/<placement>.json``).

``tastemaker train-ranker`` writes a placement's ranker when its LambdaMART beats the blend
on later impressions (:mod:`tastemaker.training.ranker_job`); servers pick a new one up
without a restart: :meth:`RankerSet.get` looks at a placement's artifact stamp at most once
per ``check_every_s`` and reloads the ranker when it changed. An unreadable artifact is
logged and the previous ranker (or none) keeps serving.
"""

from __future__ import annotations

import logging
import time

from tastemaker.ranking.ltr import LTRRanker
from tastemaker.storage.protocols import ArtifactStore

log = logging.getLogger(__name__)

RANKERS_PREFIX = "models/rankers/"


class _Entry:
    __slots__ = ("ranker", "stamp", "checked")

    def __init__(self) -> None:
        self.ranker: LTRRanker | None = None
        self.stamp: str | None = None
        self.checked = -1e18


class RankerSet:
    """The learned rankers of the placements, by name (None: no artifact store, no rankers)."""

    def __init__(self, artifacts: ArtifactStore | None, check_every_s: float = 1.0):
        self.artifacts = artifacts
        self.check_every_s = check_every_s
        self._entries: dict[str, _Entry] = {}

    @staticmethod
    def key(placement: str) -> str:
        return f"{RANKERS_PREFIX}{placement}.json"

    def get(self, placement: str) -> LTRRanker | None:
        """The placement's ranker (None: none trained, or it did not beat the blend)."""
        if self.artifacts is None:
            return None
        entry = self._entries.get(placement)
        if entry is None:
            entry = self._entries[placement] = _Entry()
        now = time.monotonic()
        if now - entry.checked < self.check_every_s:
            return entry.ranker
        entry.checked = now
        key = self.key(placement)
        stamp = self.artifacts.stamp(key)
        if stamp == entry.stamp:
            return entry.ranker
        data = self.artifacts.get(key) if stamp is not None else None
        if data is None:
            entry.ranker, entry.stamp = None, None
            return None
        try:
            entry.ranker = LTRRanker.from_bytes(data)
            entry.stamp = stamp
            log.info("serving learned ranker for placement %s (%s)", placement, key)
        except Exception as exc:  # a foreign or corrupt artifact: keep what serves
            log.error("cannot load ranker %s, keeping the previous one: %s", key, exc)
        return entry.ranker

    def save(self, placement: str, ranker: LTRRanker) -> str:
        """Store a placement's ranker (atomically: servers see the whole one or the old one);
        returns its key."""
        assert self.artifacts is not None
        key = self.key(placement)
        self.artifacts.put(key, ranker.to_bytes())
        self._entries.pop(placement, None)
        return key

    def remove(self, placement: str) -> bool:
        assert self.artifacts is not None
        removed = self.artifacts.delete(self.key(placement))
        self._entries.pop(placement, None)
        return removed
