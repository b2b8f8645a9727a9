"""Content-based scoring: TF-IDF over item text plus attribute matching.

Each item becomes one L2-normalised vector: the TF-IDF vector (scikit-learn) of its
``title``, ``description``, ``categories`` and ``tags`` text, stacked with a one-hot of its
attributes (``brand=...``, ``category=...``) weighted by ``attr_weight``. A user's profile is
the row-weighted mean of the vectors of the items in their row (negative weights, i.e.
dislikes, pull away), and ``score(rows) = profile @ V^T`` (batch, n_items): cosine-like
similarity of every item to the profile.

Because vectors come from metadata, items without any interaction score like any other,
and items added after fit are covered by :meth:`add_items` (no refit). ``fit(interactions,
items)`` takes ``items``: a list of item dicts (the record of DESIGN.md) aligned to the
matrix columns; missing trailing items get empty vectors.

Params (TfidfContent; defaults in ``__init__``, tuned on validation splits of ML-100k):
- ``attr_weight``: weight of the attribute one-hot block.
- ``min_df``, ``max_features``, ``sublinear_tf``, ``ngram_max``: TF-IDF options.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from tastemaker.models.cost_model import TEXT, Cost, Shape, dense_seconds
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width


def item_text(item: dict | None) -> str:
    """The text of an item used by the content families: title, description, categories, tags."""
    if not item:
        return ""
    parts: list[str] = []
    for key in ("title", "description"):
        v = item.get(key)
        if v:
            parts.append(str(v))
    for key in ("categories", "tags"):
        v = item.get(key) or []
        parts.extend(str(x) for x in v)
    return " ".join(parts)


def item_attributes(item: dict | None) -> list[str]:
    """Attribute tokens matched exactly: ``brand=...`` and one ``category=...`` per category."""
    if not item:
        return []
    out = []
    if item.get("brand"):
        out.append(f"brand={item['brand']}")
    out.extend(f"category={c}" for c in (item.get("categories") or []))
    return out


class ContentFamily(ModelFamily):
    """Shared profile scoring of the content families (subclasses build item vectors)."""

    needs_items: ClassVar[bool] = True
    #: Catalogues up to this size also keep the dense item-item similarity ``V V^T``
    #: (4 * n_items^2 bytes: 11 MB for 1,682 items, 67 MB at the limit), so a request costs one
    #: sparse-row x dense-matrix product, like EASE, instead of two sparse products.
    dense_similarity_below: ClassVar[int] = 4096

    def __init__(self) -> None:
        self.V: Any = None  # (n_items, d) item vectors, rows L2-normalised
        self._sim: np.ndarray | None = None  # V V^T (n_items, n_items) float32 when small enough

    #: Seconds per item to build its vector (TF-IDF; the embedding family overrides it).
    seconds_per_item: ClassVar[float] = TEXT

    def _vectors(self, items: Sequence[dict | None], fit: bool) -> Any:
        raise NotImplementedError

    def cost(self, shape: Shape) -> Cost:
        """The item vectors (per item) and, up to ``dense_similarity_below`` items, ``V V^T``."""
        n = float(shape.items)
        vectors = 400.0 * n  # ~20 features per item, csr plus the vectoriser's vocabulary
        similarity = 4.0 * n * n if shape.items <= self.dense_similarity_below else 0.0
        return Cost(self.seconds_per_item * n + dense_seconds(similarity), 3 * vectors + similarity,
                    vectors + similarity)

    def fit(self, interactions: sp.csr_matrix | None, items: Sequence[dict] | None = None) -> "ContentFamily":
        if items is None:
            raise ValueError(f"{type(self).__name__}.fit needs the items (list of dicts aligned to columns)")
        n = len(items) if interactions is None else interactions.shape[1]
        aligned = list(items[:n]) + [None] * max(0, n - len(items))
        self.n_items = n
        self.V = self._vectors(aligned, fit=True)
        self._sim = None
        self._similarity()
        return self

    def _similarity(self) -> np.ndarray | None:
        """``V V^T`` as dense float32, built on first use; None above the size limit."""
        if self.n_items > self.dense_similarity_below or self.V is None:
            return None
        if getattr(self, "_sim", None) is None:
            G = self.V @ self.V.T
            self._sim = np.ascontiguousarray(G.toarray() if sp.issparse(G) else G, dtype=np.float32)
        return self._sim

    def add_items(self, items: Sequence[dict]) -> "ContentFamily":
        """Append vectors for items added to the catalogue after fit (new columns)."""
        new = self._vectors(list(items), fit=False)
        self.V = sp.vstack([self.V, new]).tocsr() if sp.issparse(self.V) else np.vstack([self.V, new])
        self.n_items += len(items)
        self._sim = None  # rebuilt on the next score
        return self

    def profiles(self, rows: sp.csr_matrix) -> Any:
        """Row-weighted mean item vector of each row (batch, d)."""
        R = as_fit_rows(rows, self.n_items)
        w = np.asarray(np.abs(R).sum(axis=1)).ravel()
        w[w == 0] = 1.0
        return sp.diags((1.0 / w).astype(np.float32)) @ (R @ self.V)

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        sim = self._similarity()
        if sim is not None:  # profile @ V^T == (R / w) @ (V V^T): the same scores, one product
            R = as_fit_rows(rows, self.n_items)
            w = np.asarray(np.abs(R).sum(axis=1)).ravel()
            w[w == 0] = 1.0
            S = np.asarray(R @ sim) * (1.0 / w).astype(np.float32)[:, None]
            return to_width(S, rows.shape[1])
        P = self.profiles(rows)
        S = P @ self.V.T
        S = S.toarray() if sp.issparse(S) else np.asarray(S)
        return to_width(S, rows.shape[1])


class TfidfContent(ContentFamily):
    """TF-IDF text vectors plus exact attribute matching."""

    name = "tfidf"

    def __init__(self, attr_weight: float = 0.5, min_df: int = 1, max_features: int = 100_000,
                 sublinear_tf: bool = True, ngram_max: int = 1):
        super().__init__()
        self.attr_weight = float(attr_weight)
        self.vectorizer: TfidfVectorizer | None = None
        self.attr_vocab: dict[str, int] = {}

    def _vectors(self, items: Sequence[dict | None], fit: bool) -> sp.csr_matrix:
        texts = [item_text(it) for it in items]
        if fit:
            p = self.params
            self.vectorizer = TfidfVectorizer(min_df=p["min_df"], max_features=p["max_features"],
                                              sublinear_tf=p["sublinear_tf"],
                                              ngram_range=(1, p["ngram_max"]), dtype=np.float32)
            try:
                self.vectorizer.fit(texts)
            except ValueError:  # empty vocabulary: no text at all
                self.vectorizer = None
            self.attr_vocab = {}
            for it in items:
                for a in item_attributes(it):
                    self.attr_vocab.setdefault(a, len(self.attr_vocab))
        n = len(items)
        T = (self.vectorizer.transform(texts) if self.vectorizer is not None
             else sp.csr_matrix((n, 0), dtype=np.float32))
        rows, cols = [], []
        for r, it in enumerate(items):
            for a in item_attributes(it):
                j = self.attr_vocab.get(a)
                if j is not None:
                    rows.append(r); cols.append(j)
        A = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, len(self.attr_vocab)))
        A = (normalize(A) if A.shape[1] else A) * np.float32(self.attr_weight)
        blocks = [normalize(T) if T.shape[1] else T, A]
        V = sp.hstack(blocks).tocsr().astype(np.float32)
        return normalize(V).astype(np.float32) if V.shape[1] else V
