"""The candidate table passed between pipeline stages: item indices plus score columns.

A leaf utility (numpy and :mod:`tastemaker.kernels` only): rules, ranking and serving all
take and return it, and rules and ranking may not import serving, so it lives below them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tastemaker.kernels import blend_parts


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
        """The ``n`` best, best first, equal scores in item index order.

        Which of several items tied exactly at the cut gets in depends on the candidate
        order, itself a deterministic function of state and request: same input, same answer.
        """
        if len(self.items) > n:
            idx = np.argpartition(-self.scores, n - 1)[:n]
        else:
            idx = np.arange(len(self.items))
        order = idx[np.lexsort((self.items[idx], -self.scores[idx]))]
        return Candidates(self.items[order], self.scores[order], self.sources[order], self.because)


class _Slots:
    """Item -> row scratch for :func:`merge`, all ``-1`` between calls and reused across
    requests (they run one at a time on the event loop, so one per process is safe)."""

    slot = np.full(0, -1, np.int64)

    @classmethod
    def reserve(cls, size: int) -> np.ndarray:
        if len(cls.slot) < size:
            cls.slot = np.full(max(size, 2 * len(cls.slot)), -1, np.int64)
        return cls.slot


def merge(parts: list[tuple[str, float, np.ndarray, np.ndarray]]) -> Candidates:
    """Blend per-source candidate lists: sum per item and source, max-normalise each source, weight, add.

    Each part is ``(source, weight, items, scores)``; an item may repeat within a part (its
    entries add up, e.g. co-visitation from several seeds). An item's ``source`` is the one
    that contributed most to its blended score. Items come back in no particular order.
    One compiled pass (:func:`tastemaker.kernels.blend_parts`) does the arithmetic.
    """
    parts = [p for p in parts if len(p[2])]
    if not parts:
        return Candidates.empty()
    if len(parts) > 1:
        items = np.concatenate([p[2] for p in parts]).astype(np.int64, copy=False)
        scores = np.concatenate([p[3] for p in parts]).astype(np.float64, copy=False)
    else:
        items, scores = np.asarray(parts[0][2], np.int64), np.asarray(parts[0][3], np.float64)
    slot = _Slots.reserve(int(items.max()) + 1)
    lengths = np.fromiter((len(p[2]) for p in parts), np.int64, len(parts))
    weights = np.fromiter((p[1] for p in parts), np.float64, len(parts))
    uniq, blended, best = blend_parts(items, scores, lengths, weights, slot)
    names = np.array([p[0] for p in parts], dtype=object)
    return Candidates(uniq, blended, names[best])
