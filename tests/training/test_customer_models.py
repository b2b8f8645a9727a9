"""training.customer_models: the train job's churn/CLV fit, published for every worker."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tastemaker.config import Settings
from tastemaker.datasets.snapshot import EventSnapshot
from tastemaker.features.customers import DAY_S, CustomerLedger
from tastemaker.serving.customer_models import ARTIFACT_KEY, CustomerModels
from tastemaker.storage.factory import open_stores
from tastemaker.training.customer_models import fit_snapshot, publish


def snapshot(loyal: int, gone: int) -> EventSnapshot:
    rows = [(f"loyal{u}", 15.0, d * DAY_S) for u in range(loyal) for d in range(0, 60, 3)]
    rows += [(f"gone{u}", 30.0, d * DAY_S) for u in range(gone) for d in (0, 4, 9)]
    users, values, ts = (list(c) for c in zip(*rows))
    return EventSnapshot(users, ["i"] * len(users), ["purchase"] * len(users), np.array(values), np.array(ts), 1,
                         len(users))


def test_fit_needs_enough_users():
    assert fit_snapshot(snapshot(3, 3)) is None
    doc = fit_snapshot(snapshot(30, 30))
    assert doc["customers"] == 60 and len(doc["bgnbd"]) == 4 and len(doc["gamma_gamma"]) == 3
    assert doc["as_of"] == 57 * DAY_S


def test_published_parameters_serve_every_worker(tmp_path):
    with open_stores(Settings(data_dir=tmp_path, durable=False)) as stores:
        doc = publish(stores.artifacts, snapshot(30, 30))
        assert json.loads(stores.artifacts.get(ARTIFACT_KEY)) == doc
        ledger = CustomerLedger()  # a worker that has seen only two users: too few to fit itself
        for u in ("loyal0", "gone0"):
            for d in ((0, 4, 9) if u == "gone0" else range(0, 60, 3)):
                ledger.observe(u, "purchase", 20.0, d * DAY_S)
        models = CustomerModels(lambda: ledger, lambda: 60 * DAY_S, artifacts=stores.artifacts)
        loyal, gone = models.predict(ledger.get("loyal0")), models.predict(ledger.get("gone0"))
        assert models.trained and list(models.fitted.churn.params) == pytest.approx(doc["bgnbd"])
        assert loyal["churn_probability"] < gone["churn_probability"]
