"""Predictive customer values served per user: churn probability and lifetime value.

The train job fits them on the event log and publishes the parameters in the artifact store
(:data:`ARTIFACT_KEY`, training.customer_models); every worker reads them from there. Without
a published fit a worker fits its own, as below. BG/NBD (:mod:`tastemaker.models.bgnbd`) on
each user's active days gives the probability of
no activity in the next :data:`CHURN_HORIZON_DAYS` (``churn_probability``) and the expected
active days in the next :data:`CLV_HORIZON_DAYS`; Gamma-Gamma
(:mod:`tastemaker.models.gamma_gamma`) on revenue per active day turns those days into money
(``clv``, undiscounted; None while nobody has bought twice). Both are fitted on the whole
population from the online state's ledger (``features.customers``), with "now" the latest
event time, in a background thread: at the first read (predictions are None until that fit
is done; :meth:`CustomerModels.fit_now` fits in the caller's thread), then again once the fit
is older than ``refit_s`` or the population grew by a fifth. A user's own prediction uses their
current totals, so it moves with each of their events; only the parameters lag.
``at_risk_predicted`` is the segment of users whose churn probability is at least
:data:`AT_RISK_THRESHOLD`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tastemaker.features.customers import FIELDS, Customer, CustomerLedger
from tastemaker.models.bgnbd import BetaGeo, summaries
from tastemaker.models.gamma_gamma import GammaGamma
from tastemaker.storage.protocols import ArtifactStore

log = logging.getLogger(__name__)
CHURN_HORIZON_DAYS = 30.0
CLV_HORIZON_DAYS = 90.0
AT_RISK_THRESHOLD = 0.5
MIN_CUSTOMERS = 20  # fewer users than this: no fit, no predictions
ARTIFACT_KEY = "customer_models.json"  # where the train job publishes the fitted parameters
_FIRST, _LAST, _DAYS, _REVENUE = (FIELDS.index(f) for f in ("first_ts", "last_ts", "active_days", "revenue"))


@dataclass(frozen=True)
class Fitted:
    churn: BetaGeo
    spend: GammaGamma | None
    customers: int
    fitted_at: float  # wall clock (time.monotonic)


def fit_arrays(first: np.ndarray, last: np.ndarray, days: np.ndarray, revenue: np.ndarray, now: float,
               penalizer: float = 0.001) -> Fitted | None:
    """Fit both models on per-user totals as of ``now`` (None: too few users)."""
    if len(first) < MIN_CUSTOMERS:
        return None
    x, t_x, T = summaries(first, last, days, now)
    churn = BetaGeo(penalizer=penalizer).fit(x, t_x, T)
    per_day = revenue / np.maximum(days, 1.0)
    spend = None
    if int(((x > 0) & (per_day > 0)).sum()) >= MIN_CUSTOMERS:
        spend = GammaGamma(penalizer=penalizer).fit(x, per_day)
        if not spend.population_mean() > 0:  # q <= 1: no finite mean, no money figure
            spend = None
    return Fitted(churn, spend, len(first), time.monotonic())


def fit(ledger: CustomerLedger, now: float, penalizer: float = 0.001) -> Fitted | None:
    """Fit both models on every user of ``ledger`` as of ``now`` (None: too few users)."""
    _, block = ledger.columns()
    return fit_arrays(block[_FIRST], block[_LAST], block[_DAYS], block[_REVENUE], now, penalizer)


def to_json(fitted: Fitted) -> dict:
    """The fitted parameters as the train job publishes them (:data:`ARTIFACT_KEY`)."""
    return {"bgnbd": list(fitted.churn.params or ()), "customers": fitted.customers,
            "gamma_gamma": None if fitted.spend is None else list(fitted.spend.params or ())}


def from_json(doc: dict) -> Fitted:
    spend = None if doc.get("gamma_gamma") is None else GammaGamma(params=tuple(doc["gamma_gamma"]))
    return Fitted(BetaGeo(params=tuple(doc["bgnbd"])), spend, int(doc["customers"]), time.monotonic())


class CustomerModels:
    """The fitted models of one online state: those the train job published in ``artifacts``
    (every worker shares them; re-read when the artifact changes, checked every
    ``check_s``), else fitted here in the background and refitted when stale."""

    def __init__(self, ledger: Callable[[], CustomerLedger], now: Callable[[], float], refit_s: float = 3600.0,
                 artifacts: ArtifactStore | None = None, check_s: float = 10.0):
        self.ledger, self.now, self.refit_s = ledger, now, refit_s
        self.artifacts, self.check_s = artifacts, check_s
        self.fitted: Fitted | None = None
        self.trained = False  # True: the parameters come from the train job
        self._stamp: str | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()
        self._fitting = False

    def _published(self) -> bool:
        """Load the train job's parameters when they changed; True while there are some."""
        if self.artifacts is None:
            return False
        clock = time.monotonic()
        if clock - self._checked >= self.check_s:
            self._checked = clock
            stamp = self.artifacts.stamp(ARTIFACT_KEY)
            if stamp is not None and stamp != self._stamp:
                data = self.artifacts.get(ARTIFACT_KEY)
                if data is not None:
                    self.fitted, self.trained, self._stamp = from_json(json.loads(data)), True, stamp
        return self.trained

    def fit_now(self) -> Fitted | None:
        """Fit on the current population, in this thread."""
        fitted = fit(self.ledger(), self.now())
        if fitted is not None:
            self.fitted = fitted
        return fitted

    def _maybe_refit(self) -> None:
        if self._published():
            return
        fitted = self.fitted
        size = len(self.ledger())
        if fitted is None:
            if size < MIN_CUSTOMERS:
                return
        elif time.monotonic() - fitted.fitted_at < self.refit_s and size <= fitted.customers * 1.2:
            return
        with self._lock:
            if self._fitting:
                return
            self._fitting = True
        threading.Thread(target=self._refit, name="customer-models", daemon=True).start()

    def _refit(self) -> None:
        try:
            self.fit_now()
        except Exception:  # a failed refit keeps the previous fit serving
            log.exception("refitting the churn/CLV models failed")
        finally:
            self._fitting = False

    def predict(self, customer: Customer | None) -> dict[str, float | None]:
        """``{"churn_probability", "clv"}`` of one user now (None where unknown)."""
        if customer is None:
            return {"churn_probability": None, "clv": None}
        self._maybe_refit()
        fitted = self.fitted
        if fitted is None:
            return {"churn_probability": None, "clv": None}
        x, t_x, T = summaries(np.array([customer.first_ts]), np.array([customer.last_ts]),
                              np.array([float(customer.active_days)]), max(self.now(), customer.last_ts))
        churn = float(fitted.churn.p_none(CHURN_HORIZON_DAYS, x, t_x, T)[0])
        clv = None
        if fitted.spend is not None:
            days = fitted.churn.expected_transactions(CLV_HORIZON_DAYS, x, t_x, T)
            per_day = np.array([customer.revenue / max(customer.active_days, 1)])
            clv = round(float(days[0] * fitted.spend.expected_value(x, per_day)[0]), 4)
        return {"churn_probability": round(churn, 6), "clv": clv}


