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


class _Board:
    """Scratch accumulators indexed by item (and source), reused across requests.

    Requests run one at a time on the event loop, so one board per process is safe; every
    entry a merge writes is zeroed again before it returns, so the board stays all-zero.
    """

    acc = np.zeros(0)
    slot = np.zeros(0, np.int64)

    @classmethod
    def reserve(cls, size: int, k: int) -> None:
        if len(cls.slot) < size:
            cls.slot = np.zeros(max(size, 2 * len(cls.slot)), np.int64)
        if len(cls.acc) < size * k:
            cls.acc = np.zeros(max(size * k, 2 * len(cls.acc)))


def merge(parts: list[tuple[str, float, np.ndarray, np.ndarray]]) -> Candidates:
    """Blend per-source candidate lists: sum per item and source, max-normalise each source, weight, add.

    Each part is ``(source, weight, items, scores)``; an item may repeat within a part (its
    entries add up, e.g. co-visitation from several seeds). An item's ``source`` is the one
    that contributed most to its blended score. Items come back in no particular order.

    No sort: entries are scattered into a dense (source x item) board, the distinct items
    found by letting each position claim its item's slot, and the board read back.
    """
    parts = [p for p in parts if len(p[2])]
    if not parts:
        return Candidates.empty()
    k = len(parts)
    items = np.concatenate([p[2] for p in parts]) if k > 1 else parts[0][2]
    scores = np.concatenate([p[3] for p in parts]) if k > 1 else parts[0][3]
    size = int(items.max()) + 1
    _Board.reserve(size, k)
    # (source x item): reductions run along contiguous rows (an (item x source) table's
    # per-row max/argmax over 5 columns cost ten times more).
    board = _Board.acc[: size * k].reshape(k, size)
    cells = items + np.repeat(np.arange(0, k * size, size), [len(p[2]) for p in parts])
    np.add.at(_Board.acc, cells, scores)
    positions = np.arange(len(items))
    _Board.slot[items] = positions  # the last position of each item wins its slot
    uniq = items[_Board.slot[items] == positions]
    table = np.take(board, uniq, axis=1)  # C-contiguous (board[:, uniq] is not: slow reductions)
    _Board.acc[cells] = 0.0
    peak = table.max(axis=1)
    table *= (np.array([p[1] for p in parts]) / np.where(peak > 0, peak, 1.0))[:, None]
    names = np.array([p[0] for p in parts], dtype=object)
    return Candidates(uniq, table.sum(axis=0), names[table.argmax(axis=0)])
