"""Margin-aware ordering: a tunable trade-off between relevance and margin.

``score' = (1 - weight) * relevance / max(relevance) + weight * margin / max(margin)``,
both normalised over the request's candidates, so ``weight`` reads the same whatever the
scale of scores or margins (ratios or currency). A missing or negative margin counts as 0.
``weight = 0`` keeps the relevance order; ``weight = 1`` sorts by margin.

>>> MarginBlend(0.5).blend(np.array([1.0, 0.5]), np.array([0.0, 0.4])).tolist()
[0.5, 0.75]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MarginBlend:
    weight: float
    name: str = "margin"

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError("the margin weight is between 0 and 1")

    def blend(self, scores: np.ndarray, margins: np.ndarray) -> np.ndarray:
        if self.weight == 0.0 or not len(scores):
            return scores
        top = float(scores.max())
        rel = scores / top if top > 0 else np.zeros_like(scores)
        m = np.where(np.isfinite(margins), margins, 0.0)  # NaN, +-inf: 0
        np.maximum(m, 0.0, out=m)
        mtop = float(m.max())
        mnorm = m / mtop if mtop > 0 else m
        return (1.0 - self.weight) * rel + self.weight * mnorm
