"""Session-aware ALS: implicit ALS fitted on the user rows plus one pseudo-user row per session.

The interaction matrix says *which* items a user touched; the event times say which of them
were touched *together*. :class:`.session_ease.SessionEASE` adds that to EASE's Gram matrix;
this family gives the same evidence to ALS: for each session gap ``g`` with weight ``w``,
the rows of ``w * Z_g`` are stacked under the interaction matrix before fitting, where
``Z_g`` has one binary row per session (a user's events split wherever two consecutive
events are more than ``g`` seconds apart, see :func:`.session_ease.session_matrix`). The
item factors then also explain co-occurrence within sessions (ALS keeps no user factors, so
nothing of the pseudo-users stays). With no timestamps (or all weights 0) it is plain
:class:`.als.ALS`.

Serving is ALS's: ``score(rows)`` solves each row's user factors from the item factors
(fold-in), so cost per request, real-time behaviour and the fold-in kernel are unchanged.

Params (defaults in ``__init__``, tuned on validation as ALS's): ALS's (``factors``,
``regularization``, ``alpha``, ``iterations``, ``random_state``, ``num_threads``, ``use_cg``,
``content_weight``) plus
- ``session_gaps`` (tuple of float seconds): session split gaps.
- ``session_weights`` (tuple of float): weight of each gap's session rows
  (the confidence of a session row is ``1 + alpha * w``).

``fit(interactions, items=None, timestamps=None)``: ``timestamps`` is a csr matrix shaped like
``interactions`` holding each (user, item) pair's event time in seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from tastemaker.models.als import ALS
from tastemaker.models.cost_model import Shape
from tastemaker.models.family import ModelFamily
from tastemaker.models.session_ease import session_matrix, set_sessions


def session_rows(interactions: sp.csr_matrix, timestamps: sp.csr_matrix | None,
                 gaps: tuple[float, ...], weights: tuple[float, ...]) -> sp.csr_matrix:
    """The weighted session pseudo-user rows (n_sessions_total, n_items) float32 for the
    pairs present in ``interactions`` (empty without timestamps)."""
    n_items = interactions.shape[1]
    if timestamps is None:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    T = sp.csr_matrix(timestamps)
    if T.shape == interactions.shape:
        T = T.multiply(interactions != 0).tocsr()  # only the pairs being fitted
    blocks = [np.float32(w) * session_matrix(T, g) for g, w in zip(gaps, weights) if w]
    if not blocks:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    return sp.vstack(blocks).tocsr().astype(np.float32)


class SessionALS(ALS):
    """ALS whose item factors also fit session co-occurrence (pseudo-user rows)."""

    name = "session_als"
    uses_timestamps: ClassVar[bool] = True

    # reg 60 / alpha 6: best on the validation of protocol (a), the random per-user holdout
    # the default pipeline trains and judges with; on ML-100k's temporal protocols (global
    # time cut, leave-last-out) ALS's reg 40 / alpha 4 validates better, and the bench
    # chooses between the two per protocol on validation. content_weight 4: on the
    # validation of protocol (a) (three seeds, train-carved folds) +0.0017 (8 alike, 16: +0.0000).
    def __init__(self, factors: int = 128, regularization: float = 60.0, alpha: float = 6.0,
                 iterations: int = 15, random_state: int = 0, num_threads: int = 0,
                 use_cg: bool = True, session_gaps: tuple[float, ...] = (60.0,),
                 session_weights: tuple[float, ...] = (0.5,), content_weight: float = 4.0):
        super().__init__(factors=factors, regularization=regularization, alpha=alpha,
                         iterations=iterations, random_state=random_state,
                         num_threads=num_threads, use_cg=use_cg, content_weight=content_weight)
        set_sessions(self, session_gaps, session_weights)

    def fit_rows(self, shape: Shape) -> tuple[float, float]:
        """ALS's rows and cells plus one pseudo-user per session of every weighted gap."""
        rows, cells = super().fit_rows(shape)
        for gap, w in zip(self.session_gaps, self.session_weights):
            if w:
                rows, cells = rows + shape.session_rows(gap), cells + shape.nnz
        return rows, cells

    def stand_ins(self, shape: Shape) -> list[ModelFamily]:
        """64 factors, then no session rows, then no metadata rows either. On the generator's
        data at 50k users / 100k items (a 75/25 split, 5,000 test users) session rows did not
        help (nDCG@10 at 64 factors: 0.1428 with sessions and metadata, 0.1450 metadata only,
        0.1391 sessions only) and cost 3x the fit of ALS alone; at 600 users / 15k items they
        did (0.3450 against 0.3280 without)."""
        small = min(self.factors, 64)
        out: list[ModelFamily] = [self.clone(factors=64)] if self.factors > 64 else []
        if any(self.session_weights) and shape.has_times:
            out.append(self.clone(factors=small, session_weights=tuple(0.0 for _ in self.session_weights)))
        if self.content_weight and shape.has_items:
            out.append(self.clone(factors=small, session_weights=tuple(0.0 for _ in self.session_weights),
                                  content_weight=0.0))
        return out

    def fit(self, interactions: sp.csr_matrix, items: Any = None,
            timestamps: sp.csr_matrix | None = None) -> "SessionALS":
        X = sp.csr_matrix(interactions, dtype=np.float32)
        Z = session_rows(X, timestamps, self.session_gaps, self.session_weights)
        return super().fit(sp.vstack([X, Z]).tocsr().astype(np.float32) if Z.shape[0] else X, items)
