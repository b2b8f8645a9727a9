"""Per-segment breakdown of an effect (device, country, new vs returning ...).

For each value of a segment column, the primary metric's treatment-vs-control effect on the
users of that segment, tested the same way as the whole experiment (fixed-horizon, CUPED
within the segment when covariates exist). The p-values are not corrected for the number of
segments: a breakdown is exploratory, for finding where an effect comes from, not for
deciding; the verdict uses the whole population.

Example:
    >>> import numpy as np
    >>> from tastemaker.experiments.analysis_spec import MetricSpec
    >>> from tastemaker.experiments.metrics_table import UserMetrics
    >>> n = 400; i = np.arange(n)
    >>> t = UserMetrics(i, np.where(i % 2, "b", "a"), i * 1.0, {"conversion": (i % 5 == 0) * 1.0},
    ...                 segments={"device": np.where(i < 200, "mobile", "desktop")})
    >>> [r["segment"] for r in segment_breakdown(t, MetricSpec("conversion"), "device", "a")]
    ['desktop', 'mobile']
"""

from __future__ import annotations

import numpy as np

from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.comparison import compare, prepare
from tastemaker.experiments.metrics_table import UserMetrics


def segment_breakdown(table: UserMetrics, metric: MetricSpec, segment: str, control: str,
                      treatments: list[str] | None = None, alpha: float = 0.05,
                      cuped: bool = True) -> list[dict]:
    """One row per (segment value, treatment): users per arm and the effect (or why none)."""
    if segment not in table.segments:
        raise KeyError(f"no segment column {segment!r} in the table (has {sorted(table.segments)})")
    treatments = treatments if treatments is not None else [v for v in table.variants() if v != control]
    rows = []
    labels = table.segments[segment]
    for value in sorted(np.unique(labels).tolist()):
        part = table.subset(labels == value)
        p = prepare(part, metric, cuped)
        counts = part.counts()
        for t in treatments:
            row = {"segment": value, "treatment": t, "n_control": counts.get(control, 0),
                   "n_treatment": counts.get(t, 0), "effect": None, "note": None}
            try:
                row["effect"] = compare(p, control, t, alpha).to_dict()
            except ValueError as e:  # too few users in an arm of this segment
                row["note"] = str(e)
            rows.append(row)
    return rows
