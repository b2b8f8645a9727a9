"""Evaluation protocols: split an interaction matrix into train and test cells.

Every split returns ``(train, test)``: two csr matrices with the same shape (same user and
item index) whose cells partition the input's cells. Protocols:

- (a) :func:`random_split` — per-user stratified random split: each user with >= 2
  interactions puts ``~test_fraction`` of their items in test (the ML-100k benchmark
  protocol of Microsoft Recommenders that the published anchors use);
- (b) :func:`temporal_split` — one global time cut: the latest ``test_fraction`` of
  interactions are the test set (what a deployed model faces: predicting the future);
- (c) :func:`leave_last_out` — each user's latest interaction is their test item;
- (d) :func:`next_in_visit_split` — what each user touches in their last visit after its
  opening event (it needs the raw events; the served evaluation uses it).

:func:`validation_split` cuts the *training* matrix again, for choosing hyperparameters and
hybrid weights without ever touching the test set. The cells each protocol holds out are
chosen by :mod:`tastemaker.holdout`, which the hybrid's own weight validation uses too.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> m = sp.csr_matrix(np.ones((3, 8), dtype=np.float32))
    >>> train, test = random_split(m, test_fraction=0.25, seed=0)
    >>> np.diff(test.indptr).tolist(), (train.nnz + test.nnz) == m.nnz
    ([2, 2, 2], True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.sparse as sp

from tastemaker.datasets.interactions import InteractionData
from tastemaker.holdout import latest_holdout, random_holdout, split_by_mask, time_cut_holdout

Protocol = Literal["random", "temporal", "leave_last_out"]
Split = tuple[sp.csr_matrix, sp.csr_matrix]
#: The default test share of each protocol (leave-last-out takes one item per user).
DEFAULT_TEST_FRACTION: dict[str, float] = {"random": 0.25, "temporal": 0.2, "leave_last_out": 0.0}


def _matrix_and_times(data: InteractionData | sp.spmatrix,
                      need_times: bool) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """Canonical csr plus per-cell timestamps aligned with its data (when known)."""
    if isinstance(data, InteractionData):
        m, ts = data.matrix, data.timestamps
        if not m.has_canonical_format:
            raise ValueError("InteractionData.matrix must be canonical (built by build_interactions)")
    else:
        m, ts = sp.csr_matrix(data), None
        m.sum_duplicates()
        m.eliminate_zeros()
    if need_times and ts is None:
        raise ValueError("this protocol needs timestamps: pass InteractionData built from "
                         "events with a 'timestamp' column")
    return m, ts


def random_split(data: InteractionData | sp.spmatrix, test_fraction: float = 0.25,
                 seed: int = 0) -> Split:
    """Protocol (a): per-user stratified random split.

    A user with ``n >= 2`` interactions keeps ``floor((1 - test_fraction) * n)`` (at least
    one) in train and puts the rest (at least one) in test; a user with one interaction
    keeps it in train. Deterministic for a seed.

    Example:
        >>> m = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
        >>> a, b = random_split(m, 0.5, seed=3), random_split(m, 0.5, seed=3)
        >>> (a[1] != b[1]).nnz, a[1].nnz
        (0, 4)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    m, _ = _matrix_and_times(data, need_times=False)
    return split_by_mask(m, random_holdout(m, test_fraction, seed))


def temporal_split(data: InteractionData, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Protocol (b): one global time cut; the latest ``test_fraction`` of cells are test.

    Ties at the cut all go to test, so every train timestamp is strictly earlier than every
    test timestamp. (``seed`` is accepted for a uniform signature and unused.)

    Example:
        >>> m = sp.csr_matrix(np.ones((1, 5), dtype=np.float32))
        >>> d = InteractionData(["u"], list("abcde"), m, timestamps=np.array([5., 1, 4, 2, 3]))
        >>> temporal_split(d, 0.4)[1].indices.tolist()
        [0, 2]
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    m, ts = _matrix_and_times(data, need_times=True)
    return split_by_mask(m, time_cut_holdout(ts, test_fraction))


def leave_last_out(data: InteractionData, seed: int = 0) -> Split:
    """Protocol (c): each user's latest interaction (users with >= 2) is their test item.

    Timestamp ties (common: ML-100k rates many films in one second) are broken at random,
    deterministically for a seed.

    Example:
        >>> m = sp.csr_matrix(np.ones((1, 3), dtype=np.float32))
        >>> d = InteractionData(["u"], list("abc"), m, timestamps=np.array([3., 9, 1]))
        >>> leave_last_out(d)[1].indices.tolist()
        [1]
    """
    m, ts = _matrix_and_times(data, need_times=True)
    return split_by_mask(m, latest_holdout(m, ts, seed))


PROTOCOLS: dict[str, Callable[..., Split]] = {
    "random": random_split, "temporal": temporal_split, "leave_last_out": leave_last_out,
}


def split(data: InteractionData | sp.spmatrix, protocol: Protocol = "random", seed: int = 0,
          test_fraction: float | None = None) -> Split:
    """Dispatch to a protocol by name (``test_fraction`` defaults per protocol).

    Example:
        >>> m = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
        >>> split(m, "random", seed=1)[1].nnz
        2
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {sorted(PROTOCOLS)}")
    if protocol == "leave_last_out":
        return leave_last_out(data, seed=seed)  # type: ignore[arg-type]
    frac = DEFAULT_TEST_FRACTION[protocol] if test_fraction is None else test_fraction
    return PROTOCOLS[protocol](data, frac, seed=seed)


def validation_split(train: InteractionData | sp.spmatrix, fraction: float = 0.25,
                     seed: int = 0, protocol: Protocol = "random") -> Split:
    """Carve (fit, validation) out of the *training* data only, by the same protocols.

    Pass ``InteractionData`` (e.g. ``data.subset(train)``) for the temporal and
    leave-last-out protocols, which need per-cell timestamps. The seed is offset so that
    validation cells are not chosen by the same random draws as the test split.

    Example:
        >>> m = sp.csr_matrix(np.ones((2, 8), dtype=np.float32))
        >>> fit, val = validation_split(m, 0.25, seed=0)
        >>> fit.nnz, val.nnz
        (12, 4)
    """
    return split(train, protocol, seed=seed + 7919, test_fraction=fraction)


def next_in_visit_split(data: InteractionData, events: dict[str, object], gap_s: float = 1_800.0) -> Split:
    """Protocol (d), "next in the visit": what each user goes on to touch once a visit has begun.

    A visit is a run of a user's events no more than ``gap_s`` apart (the online state's
    session timeout). For each user with history before their last visit, the cells whose
    *first* event falls in that visit after its opening event are test: the opening click is
    known, the rest of the visit is to be predicted. It needs the raw events (``user_id``,
    ``item_id``, ``timestamp`` columns, e.g. ``EventSnapshot.columns()``), since a cell keeps
    only its latest time. This is where real-time sources (the visit's co-visitation, its
    categories) can add to a model that knows the user's past.

    Example:
        >>> ev = {"user_id": ["u"] * 4, "item_id": ["a", "b", "c", "d"], "type": ["view"] * 4,
        ...       "timestamp": [0.0, 10_000.0, 10_060.0, 10_120.0]}
        >>> from tastemaker.datasets.interactions import build_interactions
        >>> train, test = next_in_visit_split(build_interactions(ev), ev)
        >>> [build_interactions(ev).item_ids[c] for c in test.indices]
        ['c', 'd']
    """
    m, _ = _matrix_and_times(data, need_times=False)
    users = {u: k for k, u in enumerate(data.user_ids)}
    items = {i: k for k, i in enumerate(data.item_ids)}
    u = np.fromiter((users.get(x, -1) for x in events["user_id"]), np.int64)
    i = np.fromiter((items.get(x, -1) for x in events["item_id"]), np.int64)
    ts = np.asarray(events["timestamp"], np.float64)
    keep = (u >= 0) & (i >= 0)
    u, i, ts = u[keep], i[keep], ts[keep]
    order = np.lexsort((ts, u))
    u, i, ts = u[order], i[order], ts[order]
    # each user's last visit: it opens at the user's last gap (or first event)
    opens = np.r_[True, (u[1:] != u[:-1]) | (np.diff(ts) > gap_s)]
    visit_open = np.full(len(data.user_ids), -np.inf)
    first_event = np.full(len(data.user_ids), np.inf)
    np.minimum.at(first_event, u, ts)
    np.maximum.at(visit_open, u[opens], ts[opens])  # the latest opening of each user
    # the first event of each (user, item) cell
    cell = u * max(len(data.item_ids), 1) + i
    first_touch: dict[int, float] = {}
    for c, t in zip(cell.tolist(), ts.tolist()):
        first_touch.setdefault(c, t)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    cells = rows * max(len(data.item_ids), 1) + m.indices
    touched = np.fromiter((first_touch.get(c, -np.inf) for c in cells.tolist()), np.float64, len(cells))
    has_history = first_event[rows] < visit_open[rows]
    return split_by_mask(m, has_history & (touched > visit_open[rows]))
