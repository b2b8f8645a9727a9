"""features.rfm: quintile scores against the population, edges refreshed cheaply."""

from __future__ import annotations

import doctest

from tastemaker.features import rfm
from tastemaker.features.customers import DAY_S, CustomerLedger
from tastemaker.features.rfm import RfmScores


def test_doctest():
    assert doctest.testmod(rfm).failed == 0


def ledger_of(n: int) -> CustomerLedger:
    ledger = CustomerLedger()
    for i in range(n):
        ledger.observe(f"u{i}", "view", None, i * DAY_S)  # u{i}: last seen on day i, one active day
    return ledger


def test_each_quintile_holds_a_fifth_and_ties_go_down():
    ledger = ledger_of(100)
    scores = RfmScores(ledger, clock=lambda: 0.0)
    recency = [scores.score(f"u{i}", 0.0)["recency"] for i in range(100)]
    assert [recency.count(s) for s in range(1, 6)] == [20, 20, 20, 20, 20]
    assert recency == sorted(recency)  # later last event: never a lower score
    assert {scores.score(f"u{i}", 0.0)["monetary"] for i in range(100)} == {1}  # nobody bought: all tied at 0
    assert scores.score("nobody", 0.0) is None


def test_edges_refresh_when_stale_or_when_the_population_grows():
    ledger = ledger_of(10)
    now = [0.0]
    scores = RfmScores(ledger, refresh_s=60.0, clock=lambda: now[0])
    first = scores.edges()
    ledger.observe("u0", "view", None, 1000 * DAY_S)  # same population size, edges not stale yet
    assert scores.edges() is first
    assert scores.score("u0", 0.0)["recency"] == 5  # the user's own value is current
    now[0] = 61.0
    assert scores.edges() is not first
    second = scores.edges()
    for i in range(10, 12):  # +20%: refreshed without waiting
        ledger.observe(f"u{i}", "view", None, 0.0)
    assert scores.edges() is not second
