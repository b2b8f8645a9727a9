"""The k best columns of each row of a score matrix: shared by serving (a learned model's
candidates) and offline evaluation (the ranked lists it measures), so both rank the same way."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores per row, best first; ``-1`` where the score is -inf/NaN.

    Example:
        >>> top_k(np.array([[0.1, 0.9, -np.inf, 0.5]]), 3).tolist()
        [[1, 3, 0]]
    """
    scores = np.where(np.isnan(scores), -np.inf, scores)
    k_eff = min(k, scores.shape[1])
    if k_eff < scores.shape[1]:  # argpartition: O(n_items) per row instead of a full sort
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    part_scores = np.take_along_axis(scores, part, 1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, 1).astype(np.int64)
    idx[~np.isfinite(np.take_along_axis(part_scores, order, 1))] = -1
    if k_eff < k:
        idx = np.hstack([idx, np.full((len(idx), k - k_eff), -1, np.int64)])
    return idx
