"""features.item_index: dense ids and growable arrays."""

from __future__ import annotations

import numpy as np

from tastemaker.features.item_index import ItemIndex, grown


def test_ids_map_to_dense_positions_never_reused():
    index = ItemIndex()
    assert [index.add(i) for i in ("a", "b", "a", "c")] == [0, 1, 0, 2]
    assert len(index) == 3
    assert index.ids == ["a", "b", "c"]
    assert index.get("b") == 1 and index.get("z") is None


def test_grown_returns_the_same_array_when_big_enough():
    a = np.arange(5)
    assert grown(a, 5) is a and grown(a, 3) is a


def test_grown_doubles_and_fills():
    a = np.array([1.0, 2.0] * 600)
    b = grown(a, 1201, fill=-1.0)
    assert len(b) == 2400
    np.testing.assert_array_equal(b[:1200], a)
    assert np.all(b[1200:] == -1.0)
    small = grown(np.zeros(0, dtype=bool), 3, True)
    assert small.dtype == bool and len(small) == 1024 and small.all()
    assert len(grown(np.zeros(0), 5000)) == 5000


def test_concurrent_inserts_never_share_a_position():
    import threading

    index = ItemIndex()
    ids = [f"item-{k}" for k in range(20_000)]

    def insert(chunk):
        for item_id in chunk:
            index.add(item_id)

    threads = [threading.Thread(target=insert, args=(ids[k::3] + ids[::7],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(index) == len(ids) == len(set(index.ids))
    assert all(index.ids[index.get(i)] == i for i in ids)
