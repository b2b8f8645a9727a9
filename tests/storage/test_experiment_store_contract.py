"""The experiment store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.ExperimentStore``.
"""

from __future__ import annotations

import threading

import pytest

from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import ExperimentConflict


def doc(exp_id: str = "e1", status: str = "draft", **extra) -> dict:
    return {"id": exp_id, "status": status, "variants": [{"name": "a", "share": 0.5, "override": {"blend": {"t": 1.5}}}],
            "start": None, **extra}


class TestExperimentStore:
    def test_empty(self, stores: Stores):
        assert stores.experiments.list() == [] and stores.experiments.get("e1") is None

    def test_create_get_list_keep_every_field(self, stores: Stores, other_stores: Stores):
        created = stores.experiments.create("e1", doc())
        assert (created.version, created.status, created.created_at == created.updated_at) == (1, "draft", True)
        stores.experiments.create("e2", doc("e2", "running"))
        got = other_stores.experiments.get("e1")
        assert got == created and got.definition == doc()
        assert [r.experiment_id for r in other_stores.experiments.list()] == ["e1", "e2"]
        assert [r.experiment_id for r in other_stores.experiments.list("running")] == ["e2"]
        assert other_stores.experiments.list("stopped") == []

    def test_a_second_create_of_an_id_conflicts_and_changes_nothing(self, stores: Stores):
        stores.experiments.create("e1", doc())
        with pytest.raises(ExperimentConflict):
            stores.experiments.create("e1", doc(status="running"))
        assert stores.experiments.get("e1").status == "draft"

    def test_update_is_optimistic(self, stores: Stores, other_stores: Stores):
        first = stores.experiments.create("e1", doc())
        second = other_stores.experiments.update("e1", doc(status="running"), expected_version=1)
        assert (second.version, second.status, second.created_at) == (2, "running", first.created_at)
        assert second.updated_at >= first.updated_at
        with pytest.raises(ExperimentConflict):  # read at version 1, written after another writer
            stores.experiments.update("e1", doc(status="stopped"), expected_version=1)
        assert stores.experiments.get("e1") == second
        assert [r.experiment_id for r in stores.experiments.list("running")] == ["e1"]
        with pytest.raises(KeyError):
            stores.experiments.update("nope", doc("nope"), expected_version=1)

    def test_every_write_changes_the_token_seen_by_another_connection(self, stores: Stores, other_stores: Stores):
        seen = other_stores.experiments.change_token()
        stores.experiments.create("e1", doc())
        after_create = other_stores.experiments.change_token()
        assert after_create != seen
        stores.experiments.update("e1", doc(status="running"), 1)
        assert other_stores.experiments.change_token() != after_create
        assert other_stores.experiments.change_token() == other_stores.experiments.change_token()

    def test_concurrent_updates_of_one_version_let_exactly_one_win(self, backend, stores: Stores):
        stores.experiments.create("e1", doc())
        writers = [backend.open() for _ in range(4)]
        start = threading.Barrier(len(writers))
        outcomes: list[str] = []

        def write(i: int) -> None:
            start.wait()
            try:
                writers[i].experiments.update("e1", doc(status="running", writer=i), expected_version=1)
                outcomes.append("won")
            except ExperimentConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict"] * 3 + ["won"]
        assert stores.experiments.get("e1").version == 2
