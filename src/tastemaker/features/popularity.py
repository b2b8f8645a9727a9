"""Time-decayed item counters: popularity and trending.

Forward decay (Cormode et al., 2009): an event at time t adds ``w * 2**((t - t0) / h)``,
so old counts never need touching; ranking at any moment is the same as ranking the true
decayed counts. Out-of-order (historical) events are handled exactly.
"""

from __future__ import annotations

import numpy as np

from tastemaker.features.item_index import grown

_REBASE_EXPONENT = 400.0  # rebase before 2**x overflows float64
ZERO_RELATIVE = 1e-11  # what subtract() takes as zero: ~45,000 float64 roundings of the value it had


class DecayedCounter:
    """Per-item counts that halve every ``half_life`` seconds.

    >>> c = DecayedCounter(half_life=10.0)
    >>> c.add(0, 1.0, ts=0.0); c.add(1, 1.0, ts=10.0)
    >>> round(float(c.values_at(10.0)[0]), 3), round(float(c.values_at(10.0)[1]), 3)
    (0.5, 1.0)
    """

    def __init__(self, half_life: float):
        self.half_life = half_life
        self.t0: float | None = None
        self._raw = np.zeros(0, dtype=np.float64)
        self._pending: list[tuple[int, float]] = []  # folded in on read: a list append per event
        self.total = 0.0

    def add(self, index: int, weight: float, ts: float) -> None:
        if self.t0 is None:
            self.t0 = ts
        exponent = (ts - self.t0) / self.half_life
        if exponent > _REBASE_EXPONENT:
            self._rebase(ts)
            exponent = 0.0
        scaled = weight * 2.0**exponent
        self._pending.append((index, scaled))
        self.total += scaled
        if len(self._pending) >= 65_536:  # bound memory when nobody reads for a while
            self.raw  # noqa: B018 (folds the pending adds)

    @property
    def raw(self) -> np.ndarray:
        if self._pending:
            pending = np.array(self._pending)
            index = pending[:, 0].astype(np.int64)
            self._raw = grown(self._raw, int(index.max()) + 1)
            np.add.at(self._raw, index, pending[:, 1])
            self._pending.clear()
        return self._raw

    def _rebase(self, ts: float) -> None:
        factor = 2.0 ** (-(ts - self.t0) / self.half_life)
        self._raw = self.raw * factor
        self.total *= factor
        self.t0 = ts

    def subtract(self, other: DecayedCounter) -> None:
        """Take away what ``other`` counted (the same events, added to both): exact up to float
        rounding, whatever either counter's ``t0`` (one factor rescales ``other``'s raw values).
        Values left within rounding of zero are set to zero."""
        if other.t0 is None:
            return
        if self.t0 is None:
            raise ValueError("subtracting counts from an empty counter")
        mine, theirs = self.raw, other.raw
        factor = 2.0 ** ((other.t0 - self.t0) / self.half_life)
        n = len(theirs)
        self._raw = mine = grown(mine, n)
        before = mine[:n].copy()
        mine[:n] -= theirs * factor
        # A sum of positive terms minus some of them is >= 0, known to n * 2**-52 of the sum
        # (float64 cancellation): a remainder below ZERO_RELATIVE of it is rounding noise, and
        # becomes 0 (a rebuild may hold a value that small there: the same noise, the other way).
        mine[:n][np.abs(mine[:n]) <= ZERO_RELATIVE * before] = 0.0
        np.maximum(mine[:n], 0.0, out=mine[:n])
        self.total = max(self.total - other.total * factor, 0.0)

    def scale_at(self, now: float) -> float:
        """Multiply raw values by this to get decayed counts at ``now``."""
        if self.t0 is None:
            return 0.0
        return 2.0 ** ((self.t0 - now) / self.half_life) if abs(self.t0 - now) / self.half_life < 1000 else 0.0

    def values_at(self, now: float) -> np.ndarray:
        return self.raw * self.scale_at(now)


def trending_scores(short: DecayedCounter, long: DecayedCounter, now: float, size: int, prior: float = 1.0) -> np.ndarray:
    """How far each item's recent rate exceeds its own baseline, in standard deviations.

    The long counter, rescaled to the short window, is the expected recent count; the score
    is ``(observed - expected) / sqrt(expected + prior)``, a Poisson z-score, so a jump from
    1 to 5 views ranks below a jump from 100 to 500.
    """
    observed = np.zeros(size)
    expected = np.zeros(size)
    s, l = short.values_at(now), long.values_at(now)
    observed[: min(len(s), size)] = s[:size]
    expected[: min(len(l), size)] = l[:size] * (short.half_life / long.half_life)
    return (observed - expected) / np.sqrt(expected + prior)
