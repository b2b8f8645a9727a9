"""Item metadata as side information for the collaborative families (EASE and ALS).

Item-item families learn only from who touched what; items that share a franchise, a genre
or a maker look unrelated until enough users have touched both. Collective models (Jeunen
et al. 2020, "Closed-form models for collaborative filtering with side-information", and
collective matrix factorisation) give the metadata to the collaborative model itself: each
metadata feature becomes a pseudo-user whose row holds the items that carry it.

The features are the content family's own item vectors (:class:`.content.TfidfContent`:
TF-IDF of title, description, categories and tags plus the attribute one-hot), so one
representation of an item serves the content scores and the side information, plus a small
publication-time block (:func:`time_vectors`: items published around the same time, from
``created_at``, e.g. films of the same years); rows L2-normalised. With weight ``w``:

- EASE adds ``w * V V^T`` to its Gram matrix (:func:`add_content_gram`): the pseudo-users'
  co-occurrence, the same form as the session Grams of :mod:`.session_ease`;
- ALS stacks the rows of ``w * V^T`` under the interaction matrix (:func:`content_rows`),
  as :mod:`.session_als` stacks sessions (ALS keeps no user factors).

Only fitting changes: serving is the family's own (``rows @ B``, ALS fold-in), so items
added after fit and request-time personalisation are unaffected. Without items (or with no
text or attributes at all) both helpers return nothing and the family is the plain one.

>>> items = [{"title": "Star Wars"}, {"title": "Return of the Jedi (Star Wars)"}, {"title": "Fargo"}]
>>> G = np.zeros((3, 3))
>>> add_content_gram(G, items, 2.0)
True
>>> bool(G[0, 1] > 0), float(G[0, 2])
(True, 0.0)
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import msgspec
import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

#: The attribute block's weight in the side-information vectors (the tfidf family's default).
ATTRIBUTE_WEIGHT = 0.5
#: The publication-time block: its weight beside the (unit-norm) text vector, the number of
#: bins over the catalogue's ``created_at`` range and the Gaussian width in bins. On ML-100k
#: (protocol (a), validation carved from training, three seeds) the block raised the
#: validation nDCG of session_ease by 0.001 and of the hybrid's blend by 0.0002..0.0012.
TIME_WEIGHT = 0.3
TIME_BINS = 64
TIME_SIGMA_BINS = 1.5
#: How many catalogues' vectors :func:`item_vectors` keeps.
RECENT_CATALOGUES = 2

_RECENT: OrderedDict[tuple, sp.csr_matrix | None] = OrderedDict()
_ENCODER = msgspec.json.Encoder(enc_hook=str)  # any value hashes (by its text)


def _created_at(item: dict | None) -> float:
    value = (item or {}).get("created_at")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan


def time_vectors(items: Sequence[dict | None]) -> sp.csr_matrix | None:
    """(len(items), TIME_BINS) L2-normalised Gaussian memberships of each item's ``created_at``
    in bins spanning the catalogue's range (items without a time get an empty row); None when
    fewer than two items have distinct times."""
    t = np.array([_created_at(it) for it in items], np.float64)
    known = np.isfinite(t)
    if known.sum() < 2 or np.ptp(t[known]) == 0:
        return None
    lo, hi = float(t[known].min()), float(t[known].max())
    centres = np.linspace(lo, hi, TIME_BINS)
    sigma = TIME_SIGMA_BINS * (hi - lo) / (TIME_BINS - 1)
    M = np.exp(-0.5 * ((np.where(known, t, lo)[:, None] - centres[None, :]) / sigma) ** 2)
    M[~known] = 0.0
    M[M < 1e-3] = 0.0  # beyond ~3.7 sigma: keep the block sparse
    M /= np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-12)
    return sp.csr_matrix(M.astype(np.float32))


def item_vectors(items: Sequence[dict | None] | None, n_items: int) -> sp.csr_matrix | None:
    """(n_items, d) L2-normalised content vectors of ``items`` aligned to the matrix columns
    (missing trailing items get empty rows); None without items or without any feature.

    The result is shared (do not modify it): a hybrid fits each member several times on the
    same catalogue, so the last few results are kept, keyed by a digest of the items' content
    (1.1 s of TF-IDF at 100k items against 35 ms of hashing)."""
    if items is None:
        return None
    aligned = list(items[:n_items]) + [None] * max(0, n_items - len(items))
    key = (n_items, ATTRIBUTE_WEIGHT, TIME_WEIGHT, TIME_BINS, TIME_SIGMA_BINS,
           hashlib.blake2b(_ENCODER.encode(aligned), digest_size=16).digest())
    if key in _RECENT:
        _RECENT.move_to_end(key)
        return _RECENT[key]
    V = _vectors(aligned)
    _RECENT[key] = V
    while len(_RECENT) > RECENT_CATALOGUES:
        _RECENT.popitem(last=False)
    return V


def _vectors(aligned: list[dict | None]) -> sp.csr_matrix | None:
    from tastemaker.models.content import TfidfContent

    V = TfidfContent(attr_weight=ATTRIBUTE_WEIGHT).fit(None, aligned).V
    T = time_vectors(aligned)
    if T is not None:
        V = normalize(sp.hstack([V, T * np.float32(TIME_WEIGHT)]).tocsr()).astype(np.float32)
    return V if V is not None and V.nnz else None


def add_content_gram(G: np.ndarray, items: Sequence[dict | None] | None, weight: float,
                     block: int = 2048) -> bool:
    """Add ``weight * V V^T`` to the dense Gram matrix ``G`` (n_items, n_items) in place, a
    block of rows at a time (no second n^2 buffer); False when there is nothing to add."""
    V = item_vectors(items, G.shape[0]) if weight else None
    if V is None:
        return False
    Vt = sp.csc_matrix(V.T)
    for start in range(0, G.shape[0], block):
        stop = min(start + block, G.shape[0])
        G[start:stop] += (V[start:stop] @ Vt).toarray().astype(G.dtype) * G.dtype.type(weight)
    return True


def content_rows(items: Sequence[dict | None] | None, n_items: int, weight: float) -> sp.csr_matrix:
    """The pseudo-user rows ``weight * V^T`` (d, n_items) float32 (0 rows when there are none)."""
    V = item_vectors(items, n_items) if weight else None
    if V is None:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    return sp.csr_matrix(V.T * np.float32(weight), dtype=np.float32)
