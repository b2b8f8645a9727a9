"""Per-user customer totals folded from the event log: activity days, orders, revenue.

Lifecycle stages, RFM scores and the BG/NBD churn model read these; ``UserState`` keeps what
serving needs per item, this keeps what segments need per customer. Each user is one
``array('d')`` of :data:`FIELDS` (a few dozen bytes, O(1) per event); snapshots store them as
one numpy block, as ``features.user_snapshot`` does for users.

A "transaction" in the BG/NBD sense is an *active day* (a UTC day with at least one event
other than an impression): content sites have no orders, and days keep bursts of clicks from
counting as many visits. Revenue is the ``value`` of ``purchase`` events (the order's amount).

>>> ledger = CustomerLedger()
>>> for ts, kind, value in [(0.0, "view", None), (3_600.0, "purchase", 20.0), (2 * 86_400.0, "view", None)]:
...     ledger.observe("u1", kind, value, ts)
>>> c = ledger.get("u1")
>>> c.active_days, c.orders, c.revenue, c.last_ts
(2, 1, 20.0, 172800.0)
>>> ledger.observe("u1", "view", None, 100 * 86_400.0)   # back after 98 days away
>>> ledger.get("u1").returned_ts
8640000.0
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

DAY_S = 86_400.0
# A return after this long away counts as a reactivation (features.segments: lifecycle).
RETURN_AFTER_S = 30 * DAY_S
FIELDS = ("first_ts", "last_ts", "active_days", "last_day", "orders", "revenue", "last_order_ts", "returned_ts")
_FIRST, _LAST, _DAYS, _LAST_DAY, _ORDERS, _REVENUE, _LAST_ORDER, _RETURNED = range(len(FIELDS))
_UNSEEN = float("nan")


@dataclass(frozen=True, slots=True)
class Customer:
    """One user's totals (times in epoch seconds; ``returned_ts`` NaN when never away long)."""

    first_ts: float
    last_ts: float
    active_days: int
    orders: int
    revenue: float
    last_order_ts: float
    returned_ts: float


class CustomerLedger:
    """user id -> totals; a pure fold of events (``observe`` in log order, late events allowed)."""

    def __init__(self) -> None:
        self._rows: dict[str, array] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._rows

    def observe(self, user_id: str, event_type: str, value: float | None, ts: float) -> None:
        """Fold one event: O(1), no allocation once the user is known."""
        if event_type == "impression":
            return  # shown, not done: not activity
        row = self._rows.get(user_id)
        day = ts // DAY_S
        if row is None:
            self._rows[user_id] = row = array("d", (ts, ts, 1.0, day, 0.0, 0.0, _UNSEEN, _UNSEEN))
        else:
            if ts > row[_LAST]:
                if ts - row[_LAST] >= RETURN_AFTER_S:
                    row[_RETURNED] = ts
                row[_LAST] = ts
            if ts < row[_FIRST]:
                row[_FIRST] = ts
            if day > row[_LAST_DAY]:  # a late event's day may go uncounted: bounded, documented
                row[_DAYS] += 1.0
                row[_LAST_DAY] = day
        if event_type == "purchase":
            row[_ORDERS] += 1.0
            if value is not None and value == value:
                row[_REVENUE] += value
            if not row[_LAST_ORDER] >= ts:  # NaN or older
                row[_LAST_ORDER] = ts

    def get(self, user_id: str) -> Customer | None:
        row = self._rows.get(user_id)
        if row is None:
            return None
        return Customer(row[_FIRST], row[_LAST], int(row[_DAYS]), int(row[_ORDERS]), row[_REVENUE],
                        row[_LAST_ORDER], row[_RETURNED])

    def forget(self, user_id: str) -> bool:
        """Drop a user's totals (erasure); True when there were any."""
        return self._rows.pop(user_id, None) is not None

    def ids(self) -> Iterator[str]:
        return iter(self._rows)

    def columns(self) -> tuple[list[str], np.ndarray]:
        """(user ids, float64 block ``len(FIELDS) x users``), for population statistics."""
        rows = self._rows.copy()  # one C call: safe while the fold adds users (models refit in a thread)
        ids = list(rows)
        block = np.frombuffer(b"".join(rows.values()), dtype=np.float64) if ids else np.zeros(0)
        return ids, block.reshape(len(ids), len(FIELDS)).T.copy()

    def column(self, name: str) -> np.ndarray:
        """One field over every user, in :meth:`ids` order."""
        return self.columns()[1][FIELDS.index(name)]

    # snapshots: one block, not a million small pickles
    def __getstate__(self) -> dict[str, Any]:
        ids, block = self.columns()
        return {"ids": ids, "block": block}

    def __setstate__(self, state: dict[str, Any]) -> None:
        block = np.ascontiguousarray(state["block"].T)
        rows: dict[str, array] = {}
        for i, uid in enumerate(state["ids"]):
            rows[uid] = row = array("d")
            row.frombytes(block[i].tobytes())
        self._rows = rows
