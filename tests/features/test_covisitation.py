"""features.covisitation: symmetric counts, cosine-normalised neighbours, compaction."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.features import covisitation_upkeep as upkeep
from tastemaker.features.covisitation import CoVisitationIndex


def as_dict(cov: CoVisitationIndex, item: int) -> dict[int, float]:
    idx, val = cov.row(item)
    out: dict[int, float] = {}
    for i, v in zip(idx.tolist(), val.tolist()):
        out[i] = out.get(i, 0.0) + v
    return out


@pytest.fixture
def cov() -> CoVisitationIndex:
    index = CoVisitationIndex()
    index.add(0, [1, 2], 1.0)
    index.add(1, [2], 2.0)
    return index


def test_counts_are_symmetric(cov):
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0}
    assert as_dict(cov, 1) == {0: 1.0, 2: 2.0}
    assert as_dict(cov, 2) == {0: 1.0, 1: 2.0}
    np.testing.assert_array_equal(cov.row_sums[:3], [2.0, 3.0, 3.0])


def test_cosine_known_answer(cov):
    ids, scores = cov.neighbors(np.array([1]), np.array([1.0]), n=10)
    assert ids.tolist() == [2, 0]
    np.testing.assert_allclose(scores, [2 / math.sqrt(3 * 3), 1 / math.sqrt(3 * 2)])


def test_weighted_seeds_add_up(cov):
    ids, scores = cov.neighbors(np.array([0, 1]), np.array([1.0, 0.5]), n=10)
    expected = {
        2: 1 / math.sqrt(2 * 3) + 0.5 * 2 / math.sqrt(3 * 3),
        1: 1 / math.sqrt(2 * 3),
        0: 0.5 * 1 / math.sqrt(3 * 2),
    }
    assert ids.tolist() == [2, 1, 0]
    np.testing.assert_allclose(scores, [expected[i] for i in ids.tolist()])
    top_ids, top_scores = cov.neighbors(np.array([0, 1]), np.array([1.0, 0.5]), n=2)
    assert top_ids.tolist() == [2, 1]
    np.testing.assert_allclose(top_scores, scores[:2])


def test_normalisation_damps_blockbusters():
    cov = CoVisitationIndex()
    for other in range(10, 60):  # item 1 is co-visited with everything
        cov.add(1, [other], 1.0)
    cov.add(0, [1], 2.0)
    cov.add(0, [2], 1.0)
    ids, scores = cov.neighbors(np.array([0]), np.array([1.0]), n=2)
    assert ids.tolist() == [2, 1]  # raw count favours 1, cosine favours the specific neighbour


def test_nothing_to_add():
    cov = CoVisitationIndex()
    cov.add(0, [], 1.0)
    cov.add(0, [1], 0.0)
    cov.add(0, [1], -1.0)
    assert cov.nnz() == 0
    ids, scores = cov.neighbors(np.array([0, 5]), np.array([1.0, 1.0]), n=3)
    assert len(ids) == 0 and len(scores) == 0
    assert len(cov.row(1000)[0]) == 0


def test_compact_preserves_neighbors_exactly(cov):
    cov.add(3, [0, 2], 0.5)
    queries = [(np.array([s]), np.array([1.0])) for s in range(4)] + [(np.array([0, 3]), np.array([1.0, 0.25]))]
    before = [cov.neighbors(items, weights, n=10) for items, weights in queries]
    rows_before = [as_dict(cov, i) for i in range(4)]
    nnz = cov.nnz()
    cov.compact()
    assert cov.delta_size == 0
    assert cov.nnz() == nnz == cov.base.nnz
    for (items, weights), (ids, scores) in zip(queries, before):
        ids2, scores2 = cov.neighbors(items, weights, n=10)
        np.testing.assert_array_equal(ids2, ids)
        np.testing.assert_array_equal(scores2, scores)
    assert [as_dict(cov, i) for i in range(4)] == rows_before
    cov.add(0, [1], 1.0)  # increments after compaction add to the matrix counts
    assert as_dict(cov, 0)[1] == 2.0 and as_dict(cov, 1)[0] == 2.0


def test_compacts_by_itself_when_the_delta_grows(monkeypatch):
    from tastemaker.features import covisitation as module

    cov = CoVisitationIndex(compact_every=4)
    cov.add(0, [1], 1.0)
    assert cov.delta_size == 2 and cov.fresh.nnz == 0  # pending: a write is two array extends
    cov.add(0, [2], 1.0)
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0}  # a read folds the pending pairs
    # fresh reached compact_every: frozen, merged into recent in the background, read meanwhile
    assert cov.delta_size == 0 and cov.merging.nnz == 4 and cov._merge.target == "recent"
    targets = []
    while cov._merge is not None:  # each read installs a finished merge and starts the next one
        targets.append(cov._merge.target)
        cov._merge.wait()
        assert as_dict(cov, 0) == {1: 1.0, 2: 1.0}  # the same counts at every step
    assert targets == ["recent", "base"]  # fresh -> recent, then recent (>= base / 4) -> base
    assert cov.base.nnz == 4 and cov.recent.nnz == cov.merging.nnz == cov.fresh.nnz == 0
    monkeypatch.setattr(module, "FOLD_PENDING", 4)
    cov.add(5, [6, 7], 1.0)  # four pending entries: folded without waiting for a read
    assert len(cov._rows) == 0 and cov.fresh.nnz == 4 or cov.merging.nnz == 4


def test_a_compaction_during_a_background_merge_keeps_every_count():
    cov = CoVisitationIndex(compact_every=4)
    cov.add(0, [1, 2], 1.0)
    cov.row_sums  # fold: fresh is full, its merge starts in the background
    assert cov._merge is not None
    cov.add(1, [2], 2.0)
    cov.compact(full=True)  # folds the frozen level itself, drops the job
    assert cov._merge is None and cov.merging.nnz == 0
    assert as_dict(cov, 1) == {0: 1.0, 2: 2.0} and as_dict(cov, 2) == {0: 1.0, 1: 2.0}
    restored = pickle.loads(pickle.dumps(cov))
    assert as_dict(restored, 2) == {0: 1.0, 1: 2.0}


def test_reads_may_lag_writes_by_at_most_max_lag():
    now = [100.0]
    cov = CoVisitationIndex(max_lag_s=1.0, clock=lambda: now[0])
    cov.add(0, [1], 1.0)
    cov.row_sums  # noqa: B018 (a read within the lag)
    assert cov.fresh.nnz == 0 and as_dict_unsynced(cov, 0) == {}
    now[0] += 1.0
    assert as_dict(cov, 0) == {1: 1.0}
    np.testing.assert_array_equal(cov.row_sums[:2], [1.0, 1.0])


def as_dict_unsynced(cov: CoVisitationIndex, item: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for level in (cov.base, cov.recent, cov.fresh):
        if item < level.shape[0]:
            start, end = level.indptr[item], level.indptr[item + 1]
            for i, v in zip(level.indices[start:end].tolist(), level.data[start:end].tolist()):
                out[i] = out.get(i, 0.0) + v
    return out


def test_add_matrix_equals_adding_pairs(cov):
    bulk = CoVisitationIndex()
    bulk.add_matrix(sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]], dtype=np.float32)))
    for seed in range(3):
        ids, scores = cov.neighbors(np.array([seed]), np.array([1.0]), n=5)
        ids2, scores2 = bulk.neighbors(np.array([seed]), np.array([1.0]), n=5)
        np.testing.assert_array_equal(ids2, ids)
        np.testing.assert_allclose(scores2, scores)
    np.testing.assert_array_equal(bulk.row_sums[:3], cov.row_sums[:3])


def test_add_matrix_on_top_of_live_counts(cov):
    cov.add_matrix(sp.csr_matrix(([4.0, 4.0], ([0, 4], [4, 0])), shape=(5, 5)))
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0, 4: 4.0}
    assert as_dict(cov, 4) == {0: 4.0}
    np.testing.assert_array_equal(cov.row_sums[:5], [6.0, 3.0, 3.0, 0.0, 4.0])
    cov.compact()
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0, 4: 4.0}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=4), st.sampled_from([0.5, 1.0, 2.0, 6.0])),
                min_size=1, max_size=40))
def test_matches_a_dense_model(adds):
    cov = CoVisitationIndex(compact_every=16)
    dense = np.zeros((13, 13))
    for item, others, weight in adds:
        cov.add(item, others, weight)
        for o in others:
            dense[item, o] += weight
            dense[o, item] += weight
    sums = np.zeros(13)
    sums[: min(13, len(cov.row_sums))] = cov.row_sums[:13]
    np.testing.assert_allclose(sums, dense.sum(axis=1))
    for item in range(13):
        got = as_dict(cov, item)
        want = {j: dense[item, j] for j in range(13) if dense[item, j]}
        assert got.keys() == want.keys()
        for j in want:
            assert got[j] == pytest.approx(want[j])


def _random_index(seed: int, items: int = 30, pairs: int = 400) -> CoVisitationIndex:
    rng = np.random.default_rng(seed)
    cov = CoVisitationIndex()
    for _ in range(pairs):
        a, b = rng.integers(0, items, 2).tolist()
        if a != b:
            cov.add(a, [b], float(rng.random()) + 0.5)  # no ties: the cut at k is unambiguous
    return cov


def test_pruned_rows_keep_the_k_heaviest_heaviest_first():
    cov = _random_index(1)
    live = {item: as_dict(cov, item) for item in range(30)}
    cov.prune(k=5)
    for item in range(30):
        idx, val = cov.strongest(item, 5)
        want = sorted(live[item].values(), reverse=True)[:5]
        assert val.tolist() == want
        assert all(live[item][i] == v for i, v in zip(idx.tolist(), val.tolist()))
        assert cov.strongest(item, 2)[1].tolist() == want[:2]  # a shorter cut is the head


def test_entries_sum_to_neighbors_whether_rows_are_pruned_or_touched():
    cov = _random_index(2)
    seeds, weights = np.array([3, 7, 11]), np.array([1.0, 0.5, 0.25])
    before = dict(zip(*[a.tolist() for a in cov.neighbors(seeds, weights, n=100, per_item=8)]))
    cov.prune(k=50)
    idx, val = cov.entries(seeds, weights, per_item=8)
    assert len(idx) > len(set(idx.tolist()))  # duplicates across seeds are left to the caller
    summed: dict[int, float] = {}
    for i, v in zip(idx.tolist(), val.tolist()):
        summed[i] = summed.get(i, 0.0) + v
    assert summed.keys() == before.keys()
    assert all(math.isclose(summed[i], before[i]) for i in before)
    cov.add(7, [3], 1.0)  # touched rows come from the live counts, with the new weight
    after = dict(zip(*[a.tolist() for a in cov.neighbors(seeds, weights, n=100, per_item=8)]))
    assert after[3] > before.get(3, 0.0)


def test_a_snapshot_in_the_old_layout_is_converted_and_re_pruned():
    from tastemaker.features.covisitation_cut import cut

    cov = _random_index(3)
    cov.prune()
    seeds, weights = np.array([1, 4, 9]), np.array([1.0, 0.5, 2.0])
    want = cov.neighbors(seeds, weights, n=20)
    state = cov.__getstate__()
    # the old layout: float64 counts, base rows in column order, a full pre-cut copy, no marker
    base = state["base"].astype(np.float64).sorted_indices()
    state.update(base=base, pruned=cut(base, 200), _pruned_sorted=True)
    del state["_layout"], state["cut_k"]
    old = CoVisitationIndex.__new__(CoVisitationIndex)
    old.__setstate__(state)
    assert old.pruned is None and old.base.dtype == np.float32
    for item in range(30):
        assert as_dict(old, item) == as_dict(cov, item)
    old.prune()
    got = old.neighbors(seeds, weights, n=20)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_an_old_snapshot_with_pending_sums_as_a_dict_loads_them():
    cov = _random_index(4)
    want = cov.row_sums.copy()
    state = cov.__getstate__()
    sums = state["_row_sums"].copy()
    state["_row_sums"] = sums * 0.0
    state["_pending_sums"] = {i: float(v) for i, v in enumerate(sums) if v}  # the old format
    old = CoVisitationIndex.__new__(CoVisitationIndex)
    old.__setstate__(state)
    np.testing.assert_allclose(old.row_sums, want)


def test_cached_rows_follow_later_adds():
    cov = _random_index(5)
    before = cov.strongest(3, 50)
    cov.add(3, [29], 100.0)  # now the strongest neighbour by far
    idx, val = cov.strongest(3, 50)
    assert idx[0] == 29 and val[0] > before[1][0]
    assert cov.strongest(29, 5)[0][0] == 3  # the other side too


def test_pending_sums_survive_pickling():
    import pickle

    cov = CoVisitationIndex()
    cov.add(0, [1, 2], 1.0)
    want = cov.row_sums.copy()
    cov.add(5, [0], 2.0)  # pending, and beyond the current array: the fold grows it
    restored = pickle.loads(pickle.dumps(cov))
    np.testing.assert_allclose(restored.row_sums[:6], [want[0] + 2.0, want[1], want[2], 0.0, 0.0, 2.0])


def test_stale_share_counts_rows_changed_since_the_cut():
    cov = _random_index(6)
    assert cov.stale_share() == 1.0  # never cut
    cov.prune()
    assert cov.stale_share() == 0.0
    cov.add(0, [1, 2], 1.0)
    cov.row_sums  # noqa: B018 (a read folds the write)
    assert cov.stale_share() == pytest.approx(3 / cov.pruned.shape[0])


def test_a_large_index_never_pruned_starts_cutting_in_the_background(monkeypatch):

    monkeypatch.setattr(upkeep, "RECUT_MIN_ROWS", 20)
    monkeypatch.setattr(upkeep, "RECUT_SHARE", 0.0)
    cov = _random_index(5, items=30, pairs=600)
    seeds, weights = np.arange(30), np.ones(30)
    exact = cov.neighbors(seeds, weights, n=30)  # the first read folds, then starts cutting
    assert cov.pruned is not None and cov._recut is not None
    cov._recut.result()  # the background job finishes...
    cov.neighbors(seeds[:1], weights[:1], n=1)  # ...and the next read installs it
    assert cov._recut is None and not cov._touched and cov.pruned.nnz > 0
    served = cov.neighbors(seeds, weights, n=30)  # now from the cut
    assert served[0].tolist() == exact[0].tolist()
    np.testing.assert_allclose(served[1], exact[1], rtol=1e-6)  # float32 counts


def test_a_small_index_keeps_the_exact_path():
    cov = _random_index(5, items=30, pairs=600)
    cov.neighbors(np.arange(3), np.ones(3), n=5)
    assert cov.pruned is None and cov._recut is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=4), st.sampled_from([0.5, 1.0, 2.0, 6.0])),
                min_size=2, max_size=40), st.integers(1, 4))
def test_strongest_reads_only_the_head_of_base_and_stays_exact(adds, k):
    """A touched row's top ``k`` reads ``base``'s first ``k + r`` entries only (r: the row's
    entries above ``base``) and equals the dense model's, ties in column order."""
    from tastemaker.features import covisitation as module

    cov = CoVisitationIndex(compact_every=10**6)
    dense = np.zeros((13, 13))
    half = len(adds) // 2
    for n, (item, others, weight) in enumerate(adds):
        if n == half:
            cov.compact(full=True)  # the first half in ``base`` (heaviest first), the rest above it
        cov.add(item, others, weight)
        for o in others:
            dense[item, o] += weight
            dense[o, item] += weight
    saved = module._CACHE_K
    module._CACHE_K = 1  # rows longer than the cut, so the head is what gets read
    try:
        for item in range(13):
            idx, val = cov.strongest(item, k)
            want = sorted(((-dense[item, j], j) for j in range(13) if dense[item, j]))[:k]
            assert idx.tolist() == [j for _, j in want]
            assert val.tolist() == pytest.approx([-w for w, _ in want])
    finally:
        module._CACHE_K = saved


def test_a_changed_row_is_served_from_cache_within_its_ttl():
    now = [0.0]
    cov = CoVisitationIndex(clock=lambda: now[0], row_ttl_s=0.5)
    cov.add(0, [1], 1.0)
    cov.add(0, [2], 2.0)
    assert cov.strongest(0, 2)[0].tolist() == [2, 1]
    cov.add(0, [1], 5.0)  # 1 overtakes 2, but the cached head is 0.1 s old
    now[0] = 0.1
    assert cov.strongest(0, 2)[0].tolist() == [2, 1]
    now[0] = 0.6  # past the ttl: re-read with the new counts
    idx, val = cov.strongest(0, 2)
    assert idx.tolist() == [1, 2] and val.tolist() == [6.0, 2.0]
    cov.add(0, [3], 9.0)
    assert cov.strongest(0, 1)[0].tolist() == [1]  # fresh within the ttl again
    exact = CoVisitationIndex(clock=lambda: now[0])  # ttl 0: every change is read at once
    exact.add(0, [1], 1.0)
    exact.strongest(0, 1)
    exact.add(0, [2], 2.0)
    assert exact.strongest(0, 1)[0].tolist() == [2]
