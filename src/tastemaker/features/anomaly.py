"""Anomalies on the event stream: event rate, type mix and per-item spikes, by EWMA z-score.

Events are counted in buckets of :data:`BUCKET_S` seconds of event time. When a bucket
closes, three signals are compared with their exponentially weighted mean and variance
over the earlier buckets (weight :data:`ALPHA`): the event count (``event_rate``), the
largest shift of one event type's share (``type_mix``) and the busiest item's count
(``item_spike``). A signal is in alert while its latest z-score is beyond
:data:`Z_ALERT` (after :data:`WARMUP` buckets; a count also :data:`MIN_EXCESS` above its mean); each change of alert state is logged once,
and the z-scores and states are exported as Prometheus gauges (``/metrics``).

>>> a = StreamAnomalies()
>>> for minute in range(30):
...     for k in range(20):
...         a.observe("view", f"i{k}", minute * 60.0 + k)
>>> for k in range(400):
...     a.observe("click", "i1", 30 * 60.0 + k * 0.1)
>>> a.observe("view", "i1", 31 * 60.0)
>>> sorted(name for name, on in a.alerts.items() if on)
['event_rate', 'item_spike', 'type_mix']
"""

from __future__ import annotations

import logging
import math

log = logging.getLogger(__name__)

BUCKET_S = 60.0
ALPHA = 0.1
WARMUP = 10  # buckets before any alert
Z_ALERT = 4.0
MAX_GAP_BUCKETS = 10  # empty buckets folded in after a pause (longer pauses: just these)
MIN_MIX_EVENTS = 20  # the type mix of a bucket with fewer events is not judged (too noisy)
MIN_EXCESS = 10.0  # events above the mean a count signal needs, besides its z-score, to alert
SIGNALS = ("event_rate", "type_mix", "item_spike")


class _Ewma:
    __slots__ = ("floor", "mean", "var")

    def __init__(self, floor: float):
        self.mean = 0.0
        self.var = 0.0
        self.floor = floor  # variance floor: a steady series still has sampling noise

    def z_then_update(self, x: float, noise: float | None = None) -> float:
        """The z-score of ``x`` against the series so far, then ``x`` joins it. ``noise``: the
        sampling variance of ``x`` (default: Poisson, the mean, for counts)."""
        noise = abs(self.mean) if noise is None else noise
        z = (x - self.mean) / math.sqrt(self.var + self.floor + noise)
        delta = x - self.mean
        self.mean += ALPHA * delta
        self.var = (1 - ALPHA) * (self.var + ALPHA * delta * delta)
        return z


class StreamAnomalies:
    """The three signals of the module docstring, updated per event in O(1)."""

    def __init__(self) -> None:
        self.start: float | None = None  # the open bucket's start
        self.count = 0
        self.types: dict[str, int] = {}
        self.item_counts: dict[str, int] = {}
        self.buckets = 0  # closed so far
        self._rate = _Ewma(1.0)  # counts: Poisson noise (the mean) plus one
        self._spike = _Ewma(1.0)
        self._shares: dict[str, _Ewma] = {}
        self.z = dict.fromkeys(SIGNALS, 0.0)
        self.alerts = dict.fromkeys(SIGNALS, False)

    def observe(self, event_type: str, item_id: str | None, ts: float) -> None:
        start = self.start
        if start is None:
            start = self.start = ts - ts % BUCKET_S
        elif ts >= start + BUCKET_S:
            self._close(min(int((ts - start) // BUCKET_S), MAX_GAP_BUCKETS))
            self.start = ts - ts % BUCKET_S
        self.count += 1
        types = self.types
        types[event_type] = types.get(event_type, 0) + 1
        if item_id is not None:
            counts = self.item_counts
            counts[item_id] = counts.get(item_id, 0) + 1

    def _close(self, n_buckets: int) -> None:
        """Close the open bucket, then ``n_buckets - 1`` empty ones (a pause in the stream:
        they lower the expected rate, and raise no alert of their own)."""
        self._fold(self.count, self.types, max(self.item_counts.values(), default=0))
        for _ in range(n_buckets - 1):
            self._rate.z_then_update(0.0)
            self._spike.z_then_update(0.0)
            self.buckets += 1
        self.count = 0
        self.types = {}
        self.item_counts = {}

    def _fold(self, count: int, types: dict[str, int], top: int) -> None:
        # a count signal alerts only when it is also MIN_EXCESS events above its mean: on a sparse
        # stream (a few events a minute) a z of 4 is a handful of events, nothing to page about
        big = (count - self._rate.mean >= MIN_EXCESS, top - self._spike.mean >= MIN_EXCESS)
        z_rate = self._rate.z_then_update(float(count))
        z_spike = self._spike.z_then_update(float(top))
        z_mix = 0.0
        if count >= MIN_MIX_EVENTS:
            for name in set(types) | set(self._shares):
                tracker = self._shares.get(name)
                if tracker is None:
                    tracker = self._shares[name] = _Ewma(1e-4)
                share = types.get(name, 0) / count
                # binomial noise of a share measured on ``count`` events, on top of the EWMA's variance
                noise = tracker.mean * (1 - tracker.mean) / count
                z = tracker.z_then_update(share, noise)
                if abs(z) > abs(z_mix):
                    z_mix = z
        self.buckets += 1
        for name, z, enough in zip(SIGNALS, (z_rate, z_mix, z_spike), (big[0], True, big[1])):
            self.z[name] = z
            on = self.buckets > WARMUP and abs(z) >= Z_ALERT and enough
            if on != self.alerts[name]:
                self.alerts[name] = on
                if on:
                    log.warning("stream anomaly: %s z=%.1f in the minute starting %s", name, z, self.start)
                else:
                    log.info("stream anomaly over: %s z=%.1f", name, z)

    def gauges(self) -> dict[str, float]:
        """``anomaly_<signal>_zscore`` and ``anomaly_<signal>_alert`` (1 in alert) for /metrics."""
        out: dict[str, float] = {}
        for name in SIGNALS:
            out[f"anomaly_{name}_zscore"] = round(self.z[name], 4)
            out[f"anomaly_{name}_alert"] = 1.0 if self.alerts[name] else 0.0
        return out
