"""The train job's churn and lifetime-value step: BG/NBD and Gamma-Gamma on the event log.

Per-user totals (first and last event, active days, revenue) come from the training snapshot
(quarantined and non-consenting users' events left out, as for the recommender), "now" is its
latest event; the parameters go to the artifact store (``serving.customer_models.ARTIFACT_KEY``),
where every worker's :class:`~tastemaker.serving.customer_models.CustomerModels` picks them up.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from tastemaker.datasets.snapshot import EventSnapshot
from tastemaker.evaluation.churn import cut
from tastemaker.serving.customer_models import ARTIFACT_KEY, fit_arrays, to_json
from tastemaker.storage.protocols import ArtifactStore


def fit_snapshot(snapshot: EventSnapshot) -> dict[str, Any] | None:
    """The fitted parameters (``serving.customer_models.to_json``), None with too few users."""
    if not len(snapshot):
        return None
    table = pa.table({"user_id": list(snapshot.user_id), "type": list(snapshot.type),
                      "value": np.asarray(snapshot.value, np.float64), "timestamp": np.asarray(snapshot.timestamp)})
    now = float(np.max(snapshot.timestamp))
    totals = cut(table, now + 1.0, 0.0)  # everything before "now"; no horizon: labels unused
    fitted = fit_arrays(totals.first, totals.last, totals.days, totals.revenue, now)
    return None if fitted is None else {**to_json(fitted), "as_of": now}


def publish(artifacts: ArtifactStore, snapshot: EventSnapshot) -> dict[str, Any] | None:
    """Fit on ``snapshot`` and write the parameters for the servers; returns them (metrics)."""
    doc = fit_snapshot(snapshot)
    if doc is not None:
        artifacts.put(ARTIFACT_KEY, json.dumps(doc).encode())
    return doc
