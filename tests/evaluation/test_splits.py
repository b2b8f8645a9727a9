"""Split protocols: partitions, per-user fractions, time order, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.datasets.interactions import InteractionData
from tastemaker.evaluation.splits import (
    leave_last_out,
    random_split,
    split,
    temporal_split,
    validation_split,
)


def random_data(seed: int, n_users: int = 40, n_items: int = 60, density: float = 0.15,
                tied_times: bool = False) -> InteractionData:
    rng = np.random.default_rng(seed)
    m = sp.random(n_users, n_items, density=density, format="csr", random_state=rng,
                  dtype=np.float32)
    m.data[:] = rng.integers(1, 5, m.nnz)
    m.sum_duplicates()
    ts = rng.integers(0, 50, m.nnz).astype(float) if tied_times else rng.random(m.nnz) * 1e6
    return InteractionData([f"u{u}" for u in range(n_users)], [f"i{i}" for i in range(n_items)],
                           m, timestamps=ts)


def assert_partition(m: sp.csr_matrix, train: sp.csr_matrix, test: sp.csr_matrix) -> None:
    assert train.shape == test.shape == m.shape
    assert train.multiply(test).nnz == 0  # disjoint
    assert abs(train + test - m).sum() == 0  # together: every cell with its weight
    assert train.has_sorted_indices and test.has_sorted_indices


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), frac=st.sampled_from([0.1, 0.2, 0.25, 0.5]))
def test_random_split_partition_and_per_user_fraction(seed, frac):
    d = random_data(seed)
    train, test = random_split(d, frac, seed=seed)
    assert_partition(d.matrix, train, test)
    n = np.diff(d.matrix.indptr)
    n_test = np.diff(test.indptr)
    expected = np.where(n >= 2, n - np.maximum(np.floor((1 - frac) * n + 1e-9), 1), 0)
    assert n_test.tolist() == expected.astype(int).tolist()
    assert (np.diff(train.indptr)[n >= 1] >= 1).all()  # nobody loses all training data


def test_random_split_quarter_of_each_user():
    m = sp.csr_matrix(np.ones((3, 8), dtype=np.float32))
    m[2, 4:] = 0
    m.eliminate_zeros()
    train, test = random_split(m, 0.25, seed=0)
    assert np.diff(test.indptr).tolist() == [2, 2, 1]  # 8 -> 2, 8 -> 2, 4 -> 1
    single = sp.csr_matrix(np.array([[0, 1, 0]], dtype=np.float32))
    assert random_split(single, 0.25)[1].nnz == 0  # one interaction stays in train


def test_random_split_deterministic_with_seed():
    d = random_data(1)
    a, b, c = (random_split(d, 0.25, seed=s)[1] for s in (7, 7, 8))
    assert (a != b).nnz == 0
    assert (a != c).nnz > 0


def test_random_split_accepts_plain_csr_with_duplicates():
    m = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 0], [1, 1, 2])), shape=(1, 3))
    train, test = random_split(m, 0.5, seed=0)
    assert train.nnz + test.nnz == 2 and (train + test).toarray().tolist() == [[0, 2, 1]]


@pytest.mark.parametrize("tied", [False, True])
def test_temporal_split_respects_time(tied):
    d = random_data(3, tied_times=tied)
    train, test = temporal_split(d, 0.2)
    assert_partition(d.matrix, train, test)
    ts_train = d.subset(train).timestamps
    ts_test = d.subset(test).timestamps
    assert ts_train.max() < ts_test.min()  # one global cut, ties all on the test side
    if not tied:
        assert test.nnz == round(0.2 * d.matrix.nnz)
    else:
        assert test.nnz >= round(0.2 * d.matrix.nnz)


def test_temporal_split_needs_timestamps():
    with pytest.raises(ValueError, match="timestamps"):
        temporal_split(sp.csr_matrix(np.ones((2, 2), dtype=np.float32)))  # type: ignore[arg-type]


@pytest.mark.parametrize("tied", [False, True])
def test_leave_last_out_picks_latest(tied):
    d = random_data(5, tied_times=tied)
    train, test = leave_last_out(d, seed=0)
    assert_partition(d.matrix, train, test)
    n = np.diff(d.matrix.indptr)
    assert np.diff(test.indptr).tolist() == (n >= 2).astype(int).tolist()
    test_ts = d.subset(test).timestamps
    for k, u in enumerate(np.flatnonzero(n >= 2)):
        lo, hi = d.matrix.indptr[u], d.matrix.indptr[u + 1]
        assert test_ts[k] == d.timestamps[lo:hi].max()


def test_leave_last_out_ties_deterministic_per_seed():
    m = sp.csr_matrix(np.ones((30, 10), dtype=np.float32))
    d = InteractionData([str(u) for u in range(30)], [str(i) for i in range(10)], m,
                        timestamps=np.zeros(300))
    a, b, c = (leave_last_out(d, seed=s)[1] for s in (1, 1, 2))
    assert (a != b).nnz == 0 and (a != c).nnz > 0


def test_validation_split_only_uses_train():
    d = random_data(9)
    train, test = random_split(d, 0.25, seed=0)
    fit, val = validation_split(train, 0.25, seed=0)
    assert_partition(train, fit, val)
    assert val.multiply(test).nnz == 0 and fit.multiply(test).nnz == 0
    # temporal validation over the training cells' own timestamps
    tr, _ = temporal_split(d, 0.2)
    fit_t, val_t = validation_split(d.subset(tr), 0.2, protocol="temporal")
    assert_partition(tr, fit_t, val_t)
    assert d.subset(fit_t).timestamps.max() < d.subset(val_t).timestamps.min()


def test_split_dispatch():
    d = random_data(2)
    for proto in ("random", "temporal", "leave_last_out"):
        train, test = split(d, proto, seed=0)
        assert_partition(d.matrix, train, test)
    with pytest.raises(ValueError):
        split(d, "kfold")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        random_split(d, 1.0)
