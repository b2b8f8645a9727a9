"""features.anomaly: steady traffic raises no alert; a spike, a mix change or a hot item does."""

from __future__ import annotations

import logging

import numpy as np

from tastemaker.features.anomaly import BUCKET_S, MAX_GAP_BUCKETS, StreamAnomalies


def steady(a: StreamAnomalies, minutes: int, start: int = 0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for minute in range(start, start + minutes):
        n = int(rng.poisson(50))
        for k in range(n):
            kind = "click" if rng.random() < 0.2 else "view"
            a.observe(kind, f"i{int(rng.integers(0, 200))}", minute * BUCKET_S + k * BUCKET_S / (n + 1))


def test_steady_poisson_traffic_raises_no_alert():
    a = StreamAnomalies()
    steady(a, 120)
    assert a.buckets == 119 and not any(a.alerts.values())
    gauges = a.gauges()
    assert set(gauges) == {f"anomaly_{s}_{k}" for s in ("event_rate", "type_mix", "item_spike") for k in ("zscore", "alert")}
    assert max(abs(gauges[f"anomaly_{s}_zscore"]) for s in ("event_rate", "type_mix", "item_spike")) < 4


def test_a_flood_on_one_item_alerts_and_logs_once(caplog):
    a = StreamAnomalies()
    steady(a, 60)
    for k in range(600):
        a.observe("view", "hot", 60 * BUCKET_S + k * 0.1)
    with caplog.at_level(logging.WARNING, logger="tastemaker.features.anomaly"):
        a.observe("view", "i1", 61 * BUCKET_S)  # closes the flooded minute
    assert a.alerts["event_rate"] and a.alerts["item_spike"] and a.gauges()["anomaly_item_spike_alert"] == 1.0
    assert sum("item_spike" in r.message for r in caplog.records) == 1
    steady(a, 30, start=62, seed=1)
    assert not a.alerts["event_rate"] and not a.alerts["item_spike"]  # back to normal: alerts clear


def test_a_change_of_type_mix_alerts_type_mix():
    a = StreamAnomalies()
    steady(a, 60)
    for k in range(50):  # the usual volume, all purchases
        a.observe("purchase", f"i{k}", 60 * BUCKET_S + k)
    a.observe("view", "i1", 61 * BUCKET_S)
    assert a.alerts["type_mix"] and not a.alerts["event_rate"]


def test_a_pause_folds_empty_minutes_without_alerting_on_the_pause_itself():
    a = StreamAnomalies()
    steady(a, 30)
    a.observe("view", "i1", 40 * BUCKET_S)  # 11 minutes later: the open one and 10 (at most) empty ones close
    assert a.buckets == 29 + MAX_GAP_BUCKETS and not any(a.alerts.values())
