"""Per-placement list quality beyond accuracy, for ``tastemaker evaluate``.

:func:`list_metrics` takes the lists a placement produced for a set of users and reports
catalogue coverage, intra-list diversity, exposure Gini and popularity bias (ARP), reusing
the model metrics (:mod:`tastemaker.evaluation.metrics`) where they exist. Lists are rows of item indices padded with -1.

>>> import scipy.sparse as sp
>>> topk = np.array([[0, 1], [0, 2]])
>>> feats = sp.csr_matrix(np.eye(3))
>>> m = list_metrics(topk, n_items=4, features=feats, popularity=np.array([0.5, 0.1, 0.1, 0.0]))
>>> m["coverage"], m["intra_list_diversity"], m["popularity_bias"]
(0.75, 1.0, 0.3)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.evaluation.metrics import (
    catalogue_coverage,
    intra_list_diversity,
    mean_metrics,
    popularity_bias,
)
from tastemaker.ranking.fairness import exposure_gini


def list_metrics(topk: np.ndarray, n_items: int, features: np.ndarray | sp.spmatrix | None = None,
                 popularity: np.ndarray | None = None, providers: np.ndarray | None = None) -> dict[str, float]:
    """Coverage, intra-list diversity (when ``features``), exposure Gini over items (and over
    ``providers[item]`` codes when given) and popularity bias (when ``popularity``)."""
    out: dict[str, float] = {"coverage": catalogue_coverage(topk, n_items),
                             "exposure_gini": exposure_gini(topk, n_items)}
    per_user: dict[str, np.ndarray] = {}
    if features is not None:
        per_user["intra_list_diversity"] = intra_list_diversity(topk, features)
    if popularity is not None:
        per_user["popularity_bias"] = popularity_bias(topk, popularity)
    out.update({k: round(v, 12) for k, v in mean_metrics(per_user).items()})
    if providers is not None:
        out["provider_exposure_gini"] = exposure_gini(topk, n_items, providers)
    return out
