"""features.customers: per-user activity days, orders and revenue folded from events."""

from __future__ import annotations

import doctest
import math
import pickle

import numpy as np

from tastemaker.features import customers
from tastemaker.features.customers import DAY_S, FIELDS, CustomerLedger
from tastemaker.features.state import OnlineState


def test_doctest():
    assert doctest.testmod(customers).failed == 0


def test_days_orders_revenue_and_late_events():
    ledger = CustomerLedger()
    ledger.observe("u", "view", None, 10 * DAY_S + 5)
    ledger.observe("u", "view", None, 10 * DAY_S + 500)        # same day: one active day
    ledger.observe("u", "impression", None, 30 * DAY_S)        # shown, not done: ignored
    ledger.observe("u", "purchase", 12.5, 11 * DAY_S)
    ledger.observe("u", "purchase", None, 11 * DAY_S + 1)      # an order without a value
    ledger.observe("u", "purchase", float("nan"), 11 * DAY_S + 2)
    ledger.observe("u", "view", None, 9 * DAY_S)               # late: moves first_ts back
    c = ledger.get("u")
    assert (c.first_ts, c.last_ts, c.active_days, c.orders, c.revenue) == (9 * DAY_S, 11 * DAY_S + 2, 2, 3, 12.5)
    assert c.last_order_ts == 11 * DAY_S + 2 and math.isnan(c.returned_ts)
    assert ledger.get("nobody") is None and "u" in ledger and len(ledger) == 1


def test_columns_pickle_and_forget():
    ledger = CustomerLedger()
    for i in range(5):
        ledger.observe(f"u{i}", "purchase", float(i), i * DAY_S)
    ids, block = ledger.columns()
    assert ids == [f"u{i}" for i in range(5)] and block.shape == (len(FIELDS), 5)
    assert np.array_equal(ledger.column("revenue"), np.arange(5.0))
    copy = pickle.loads(pickle.dumps(ledger))
    assert [repr(copy.get(u)) for u in ids] == [repr(ledger.get(u)) for u in ids]  # NaN != NaN
    assert ledger.forget("u0") and not ledger.forget("u0") and ledger.get("u0") is None
    assert CustomerLedger().columns()[1].shape == (len(FIELDS), 0)


def test_online_state_folds_the_ledger_and_forgets_erased_users():
    from tastemaker.features.erasure import forget_user

    state = OnlineState()
    state.apply(1, "view", "u1", None, ["i1"], None, 100.0)
    state.apply(2, "purchase", "u1", None, ["i1"], 30.0, 200.0)
    assert state.customers.get("u1").revenue == 30.0
    restored = pickle.loads(pickle.dumps(state))
    assert repr(restored.customers.get("u1")) == repr(state.customers.get("u1"))
    forget_user(state, "u1")
    assert state.customers.get("u1") is None
