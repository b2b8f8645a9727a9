"""The model store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.ModelStore``.
"""

from __future__ import annotations

import threading

import pytest

from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import ModelVersion


def record(family: str = "ease", **fields) -> ModelVersion:
    base = dict(version=0, family=family, params={"l2": 500.0, "nested": {"k": [1, 2]}}, created_at=1_700_000_000.5,
                data_from_seq=1, data_to_seq=99, n_events=99, metrics={"ndcg@10": 0.41}, artifact="sha256-ab.pkl")
    base.update(fields)
    return ModelVersion(**base)


class TestModelStore:
    def test_empty(self, stores: Stores):
        assert stores.models.list() == []
        assert stores.models.serving() is None
        assert stores.models.previous_serving() is None
        assert stores.models.get(1) is None

    def test_add_numbers_versions_in_order_and_ignores_the_given_number(self, stores: Stores):
        first = stores.models.add(record(version=41))
        second = stores.models.add(record("als"))
        assert (first.version, second.version) == (1, 2)
        assert [v.version for v in stores.models.list()] == [1, 2]

    def test_round_trip_keeps_every_field(self, stores: Stores):
        added = stores.models.add(record())
        got = stores.models.get(added.version)
        assert got == added
        assert got.params == {"l2": 500.0, "nested": {"k": [1, 2]}}
        assert got.status == "candidate" and got.promoted_at is None

    def test_promote_serves_one_version_and_retires_the_previous(self, stores: Stores):
        a, b = stores.models.add(record()), stores.models.add(record())
        assert stores.models.promote(a.version).status == "serving"
        promoted = stores.models.promote(b.version)
        assert promoted.status == "serving" and promoted.promoted_at is not None
        assert stores.models.serving().version == b.version
        assert stores.models.get(a.version).status == "retired"
        assert stores.models.previous_serving().version == a.version
        assert [v.status for v in stores.models.list()].count("serving") == 1

    def test_promote_unknown_version_raises_and_changes_nothing(self, stores: Stores):
        a = stores.models.add(record())
        stores.models.promote(a.version)
        with pytest.raises(KeyError):
            stores.models.promote(99)
        assert stores.models.serving().version == a.version

    def test_another_connection_sees_versions_and_promotions(self, stores: Stores, other_stores: Stores):
        a = stores.models.add(record())
        other_stores.models.promote(a.version)
        assert stores.models.serving().version == a.version
        assert other_stores.models.get(a.version).family == "ease"

    def test_concurrent_adds_from_several_connections_get_distinct_versions(self, backend, stores: Stores):
        writers = [backend.open() for _ in range(4)]
        start = threading.Barrier(len(writers))
        got: list[list[int]] = [[] for _ in writers]

        def add_many(i: int) -> None:
            start.wait()
            for j in range(10):
                got[i].append(writers[i].models.add(record(artifact=f"w{i}-{j}")).version)

        threads = [threading.Thread(target=add_many, args=(i,)) for i in range(len(writers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        numbers = sorted(v for per in got for v in per)
        assert numbers == list(range(1, 41))
        # each number names the record its writer stored
        for i, per in enumerate(got):
            assert sorted(stores.models.get(v).artifact for v in per) == sorted(f"w{i}-{j}" for j in range(10))
