"""Multiple-variant correction: p-values adjusted across the variant-vs-control comparisons.

With several treatment variants each compared with control, the chance that at least one
looks significant by luck grows with their number. ``holm`` (the default) controls the
family-wise error rate and is uniformly more powerful than ``bonferroni``; ``bh``
(Benjamini-Hochberg) controls the false discovery rate instead, for experiments with many
variants where some false discoveries are acceptable. statsmodels' ``multipletests`` does the
work.

Example:
    >>> [round(p, 3) for p in adjust_pvalues([0.01, 0.04, 0.03], "holm")]
    [0.03, 0.06, 0.06]
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

METHODS = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh", "none": None}


def adjust_pvalues(p_values, method: str = "holm") -> list[float]:
    """Adjusted p-values in the input order (``method``: holm | bonferroni | bh | none)."""
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}; choose one of {sorted(METHODS)}")
    p = np.asarray(p_values, dtype=np.float64)
    if p.size and ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError("p-values must lie in [0, 1]")
    if METHODS[method] is None or p.size <= 1:
        return [float(v) for v in p]
    return [float(v) for v in multipletests(p, method=METHODS[method])[1]]
