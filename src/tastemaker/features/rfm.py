"""RFM scores: recency, frequency and monetary quintiles of a user against the population.

Each score is 1..5 (5 best: most recent, most active days, most revenue). The quintile edges
(20/40/60/80th percentiles over every known user) are recomputed from the ledger's columns,
one numpy pass, when they are older than ``refresh_s`` or the population grew by a tenth;
between refreshes a score costs three ``searchsorted`` on 4 edges. A user's own values are
always current (the ledger is updated with each event), only the edges lag.

Ties go down: with most users at revenue 0 the edges are 0 and a user with 0 scores 1.

>>> from tastemaker.features.customers import CustomerLedger
>>> ledger = CustomerLedger()
>>> for i in range(10):
...     for d in range(i + 1):
...         ledger.observe(f"u{i}", "purchase", 10.0 * i, d * 86_400.0)
>>> rfm = RfmScores(ledger, clock=lambda: 0.0)
>>> rfm.score("u9", now=10 * 86_400.0), rfm.score("u0", now=10 * 86_400.0)
({'recency': 5, 'frequency': 5, 'monetary': 5}, {'recency': 1, 'frequency': 1, 'monetary': 1})
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from tastemaker.features.customers import FIELDS, CustomerLedger

QUANTILES = (0.2, 0.4, 0.6, 0.8)
REFRESH_S = 60.0
_LAST, _DAYS, _REVENUE = FIELDS.index("last_ts"), FIELDS.index("active_days"), FIELDS.index("revenue")


class RfmScores:
    """Quintile scores over ``ledger``; ``clock`` is the wall clock that ages the edges."""

    def __init__(self, ledger: CustomerLedger, refresh_s: float = REFRESH_S, clock: Callable[[], float] = time.monotonic):
        self.ledger = ledger
        self.refresh_s = refresh_s
        self.clock = clock
        self._edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._at = -np.inf
        self._size = 0
        self._lock = threading.Lock()

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(last_ts, active_days, revenue) quintile edges, refreshed when stale."""
        n = len(self.ledger)
        stale = self.clock() - self._at > self.refresh_s or n > self._size * 1.1 or n < self._size * 0.9
        if self._edges is None or stale:
            with self._lock:
                _, block = self.ledger.columns()
                if block.shape[1] == 0:
                    zeros = np.zeros(len(QUANTILES))
                    self._edges = (zeros, zeros, zeros)
                else:
                    q = np.quantile(block[[_LAST, _DAYS, _REVENUE]], QUANTILES, axis=1)  # 4 x 3
                    self._edges = (q[:, 0].copy(), q[:, 1].copy(), q[:, 2].copy())
                self._at, self._size = self.clock(), n
        return self._edges

    def score(self, user_id: str, now: float) -> dict[str, int] | None:
        """``{"recency", "frequency", "monetary"}`` scores 1..5, None for an unknown user.
        ``now`` is accepted for symmetry with other features: recency is ranked by the last
        event's time, which orders users exactly as ``now - last_ts`` does."""
        c = self.ledger.get(user_id)
        if c is None:
            return None
        last, days, revenue = self.edges()
        return {"recency": 1 + int(np.searchsorted(last, c.last_ts, "left")),
                "frequency": 1 + int(np.searchsorted(days, c.active_days, "left")),
                "monetary": 1 + int(np.searchsorted(revenue, c.revenue, "left"))}
