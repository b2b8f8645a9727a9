"""The candidate table passed between pipeline stages: item indices plus score columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
        order = np.lexsort((self.items, -self.scores))[:n]  # ties broken by index: deterministic
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
    items = np.concatenate([p[2] for p in parts]).astype(np.int64)
    contrib = np.concatenate([
        weight * scores / (scores.max() if scores.max() > 0 else 1.0) for _, weight, _, scores in parts
    ])
    source_id = np.concatenate([np.full(len(p[2]), i) for i, p in enumerate(parts)])
    uniq, inverse = np.unique(items, return_inverse=True)
    total = np.bincount(inverse, weights=contrib, minlength=len(uniq))
    # Strongest contributor per item: sort by (item, -contribution), take each group's first.
    order = np.lexsort((-contrib, inverse))
    first = np.ones(len(order), dtype=bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    best = np.empty(len(uniq), dtype=np.int64)
    best[inverse[order][first]] = source_id[order][first]
    return Candidates(uniq, total, np.asarray(names, dtype=object)[best])
