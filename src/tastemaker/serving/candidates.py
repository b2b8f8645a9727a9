"""The candidate table passed between pipeline stages: item indices plus score columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tastemaker.features.grouping import group_ids


@dataclass
class Candidates:
    """Items with their blended score, the source that contributed most, and why.

    ``because`` maps a source to the user's items that led to it (for explanations).
    """

    items: np.ndarray  # int64 item indices, unique
    scores: np.ndarray  # float64
    sources: np.ndarray  # object array of source names
    because: dict[str, list[int]] = field(default_factory=dict)

    @staticmethod
    def empty() -> Candidates:
        return Candidates(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, dtype=object))

    def __len__(self) -> int:
        return len(self.items)

    def keep(self, mask: np.ndarray) -> Candidates:
        return Candidates(self.items[mask], self.scores[mask], self.sources[mask], self.because)

    def top(self, n: int) -> Candidates:
        """The ``n`` best, ties broken by item index so answers are deterministic."""
        idx = np.arange(len(self.items))
        if len(idx) > n:
            # Everything scoring at least the n-th best score, so ties at the cut stay deterministic.
            cut = np.partition(-self.scores, n - 1)[n - 1]
            idx = np.flatnonzero(-self.scores <= cut)
        order = idx[np.lexsort((self.items[idx], -self.scores[idx]))][:n]
        return Candidates(self.items[order], self.scores[order], self.sources[order], self.because)


def merge(parts: list[tuple[str, float, np.ndarray, np.ndarray]]) -> Candidates:
    """Blend per-source candidate lists: scores are max-normalised per source, weighted, summed.

    Each part is ``(source, weight, items, scores)``; an item's ``source`` is the one that
    contributed most to its blended score.
    """
    parts = [p for p in parts if len(p[2])]
    if not parts:
        return Candidates.empty()
    names = [p[0] for p in parts]
    items = np.concatenate([p[2] for p in parts])
    contrib = np.concatenate([p[3] * (p[1] / (float(p[3].max()) or 1.0)) for p in parts])
    source_id = np.repeat(np.arange(len(parts)), [len(p[2]) for p in parts])
    uniq, group, order = group_ids(items)
    # One row per item, one column per source: totals are row sums, the label the row argmax.
    k = len(parts)
    per_source = np.bincount(group * k + source_id[order], weights=contrib[order], minlength=len(uniq) * k).reshape(len(uniq), k)
    best = per_source.argmax(axis=1)
    return Candidates(uniq, per_source.sum(axis=1), np.asarray(names, dtype=object)[best])

