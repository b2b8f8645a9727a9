"""Approximate nearest-neighbour candidates: faiss HNSW over item factors (inner product).

Matrix-factorisation families score ``user_vector . item_vector``; serving needs the top
``n`` of those without touching every item once the catalogue is large. Below
``threshold`` items (default 50,000) exact search is used (a (batch, d) x (d, n_items)
product is about as fast as a graph walk there and exact); at or above it an
``faiss.IndexHNSWFlat`` is built.

Maximum inner product is reduced to L2 search exactly (Bachrach et al. 2014): with
``phi = max ||y_i||``, items become ``[y_i, sqrt(phi^2 - ||y_i||^2)]`` and queries
``[x, 0]``; then ``||q - y'||^2 = ||x||^2 + phi^2 - 2 x.y`` orders items like ``-x.y``.
Returned scores are the exact inner products of the found items.

Params:
- ``M`` (int, default 32): HNSW graph degree.
- ``ef_construction`` (int, default 200), ``ef_search`` (int, default 256): HNSW beam widths
  (``ef_search`` is raised to ``k`` when a search asks for more).
- ``threshold`` (int, default 50,000): catalogue size from which the HNSW index is used;
  ``force_ann=True`` builds it regardless (benchmarks, tests).

Shapes: ``build(item_vectors (n_items, d))``; ``search(queries (q, d), k)`` ->
``(ids int64 (q, k), scores float32 (q, k))``, best first; ids are -1 where fewer than ``k``
items exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ANN_THRESHOLD = 50_000


def exact_top_k(item_vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k: (ids int64 (q, k), scores float32 (q, k))."""
    Y = np.asarray(item_vectors, np.float32)
    Q = np.atleast_2d(np.asarray(queries, np.float32))
    n = Y.shape[0]
    kk = min(k, n)
    ids = np.full((Q.shape[0], k), -1, np.int64)
    scores = np.full((Q.shape[0], k), -np.inf, np.float32)
    if kk == 0:
        return ids, scores
    S = Q @ Y.T
    top = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
    s = np.take_along_axis(S, top, 1)
    order = np.argsort(-s, axis=1, kind="stable")
    ids[:, :kk] = np.take_along_axis(top, order, 1)
    scores[:, :kk] = np.take_along_axis(s, order, 1)
    return ids, scores


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean share of the exact top-k ids that the approximate search also returned."""
    hits = [len(np.intersect1d(a[a >= 0], e[e >= 0])) / max(int((e >= 0).sum()), 1)
            for a, e in zip(approx_ids, exact_ids)]
    return float(np.mean(hits)) if hits else 1.0


class ANNIndex:
    """Inner-product top-k over item vectors: exact below ``threshold``, faiss HNSW above."""

    def __init__(self, M: int = 32, ef_construction: int = 200, ef_search: int = 256,
                 threshold: int = ANN_THRESHOLD, force_ann: bool = False):
        self.M = int(M)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self.threshold = int(threshold)
        self.force_ann = bool(force_ann)
        self.item_vectors = np.zeros((0, 0), np.float32)
        self.index: Any = None

    @property
    def uses_ann(self) -> bool:
        return self.index is not None

    def build(self, item_vectors: np.ndarray) -> "ANNIndex":
        Y = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self.item_vectors = Y
        self.index = None
        if Y.shape[0] and (self.force_ann or Y.shape[0] >= self.threshold):
            import faiss

            norms2 = (Y.astype(np.float64) ** 2).sum(axis=1)
            extra = np.sqrt(np.maximum(norms2.max() - norms2, 0.0)).astype(np.float32)[:, None]
            index = faiss.IndexHNSWFlat(Y.shape[1] + 1, self.M, faiss.METRIC_L2)
            index.hnsw.efConstruction = self.ef_construction
            index.add(np.ascontiguousarray(np.hstack([Y, extra])))
            self.index = index
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        Q = np.atleast_2d(np.asarray(queries, np.float32))
        if self.index is None:
            return exact_top_k(self.item_vectors, Q, k)
        self.index.hnsw.efSearch = max(self.ef_search, k)
        Qa = np.ascontiguousarray(np.hstack([Q, np.zeros((Q.shape[0], 1), np.float32)]))
        _, ids = self.index.search(Qa, k)
        ids = ids.astype(np.int64)
        safe = np.maximum(ids, 0)
        scores = np.einsum("qd,qkd->qk", Q, self.item_vectors[safe]).astype(np.float32)
        scores[ids < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")  # exact scores, best first
        return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.index is not None:
            import faiss

            state["index"] = faiss.serialize_index(self.index)
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("index") is not None:
            import faiss

            state["index"] = faiss.deserialize_index(state["index"])
        self.__dict__.update(state)
