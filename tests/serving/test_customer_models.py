"""serving.customer_models: the fit on a ledger, predictions per user, background refits."""

from __future__ import annotations

import threading

from tastemaker.features.customers import DAY_S, CustomerLedger
from tastemaker.serving.customer_models import MIN_CUSTOMERS, CustomerModels, fit


def ledger_of(loyal: int, gone: int) -> CustomerLedger:
    ledger = CustomerLedger()
    for u in range(loyal):
        for d in range(0, 60, 3):
            ledger.observe(f"loyal{u}", "purchase", 10.0 + u % 7, d * DAY_S)
    for u in range(gone):
        for d in (0, 4, 9):
            ledger.observe(f"gone{u}", "purchase", 30.0, d * DAY_S)
    return ledger


def test_too_few_users_means_no_fit_and_no_predictions():
    ledger = ledger_of(3, 3)
    assert fit(ledger, 60 * DAY_S) is None
    models = CustomerModels(lambda: ledger, lambda: 60 * DAY_S)
    assert models.predict(ledger.get("loyal0")) == {"churn_probability": None, "clv": None}
    assert models.predict(None) == {"churn_probability": None, "clv": None}


def test_predictions_separate_loyal_from_gone():
    ledger = ledger_of(40, 40)
    models = CustomerModels(lambda: ledger, lambda: 60 * DAY_S)
    fitted = models.fit_now()
    assert fitted is not None and fitted.customers == 80 and fitted.spend is not None
    loyal, gone = models.predict(ledger.get("loyal1")), models.predict(ledger.get("gone1"))
    assert 0 <= loyal["churn_probability"] < gone["churn_probability"] <= 1
    assert loyal["clv"] > gone["clv"] >= 0


def test_a_first_read_fits_in_the_background_and_growth_refits():
    ledger = ledger_of(MIN_CUSTOMERS, MIN_CUSTOMERS)
    done = threading.Event()
    models = CustomerModels(lambda: ledger, lambda: 60 * DAY_S)
    original = models.fit_now

    def fit_and_signal():
        try:
            return original()
        finally:
            done.set()
    models.fit_now = fit_and_signal
    assert models.predict(ledger.get("loyal0"))["churn_probability"] is None  # not fitted yet: the fit starts
    assert done.wait(60)
    first = models.fitted
    assert first is not None and models.predict(ledger.get("loyal0"))["churn_probability"] is not None
    done.clear()
    for u in range(20):  # +50% users: stale
        ledger.observe(f"new{u}", "view", None, 59 * DAY_S)
    models.predict(ledger.get("loyal0"))
    assert done.wait(60)
    assert models.fitted is not first and models.fitted.customers == 2 * MIN_CUSTOMERS + 20
