"""serving.learned: a trained family as the long-term source; warm batches equal fold-in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.family import ModelFamily
from tastemaker.serving.learned import LearnedModel, top_per_row
from tastemaker.models.artifact import ModelArtifact


class ItemItem(ModelFamily):
    """score = row @ S for a fixed item-item matrix: a known answer for every row."""

    name = "item-item"

    def __init__(self, sim: np.ndarray):
        super().__init__()
        self.sim = sim.astype(np.float32)
        self.calls: list[int] = []  # batch sizes seen by score()

    def fit(self, interactions, items=None):
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        self.calls.append(rows.shape[0])
        return np.asarray(rows @ self.sim, dtype=np.float32)


@pytest.fixture
def learned(world):
    ids = [f"m{k}" for k in range(12)]
    rng = np.random.default_rng(3)
    model = ItemItem(rng.uniform(0.1, 1.0, (12, 12)))
    for k in range(40):  # users with different histories
        for j in rng.choice(12, 3, replace=False).tolist():
            world.event("view", f"user{k}", ids[j])
    return LearnedModel(ModelArtifact(model, ids, "item-item", {}), 7, world.state.index), model


def test_top_per_row_masks_seen_and_orders():
    scores = np.array([[0.3, 0.9, 0.1, 0.8], [0.5, 0.2, 0.7, 0.6]])
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    cols, vals = top_per_row(scores, seen, 3)
    assert cols.tolist() == [[3, 0, 2], [2, 3, 0]]
    np.testing.assert_allclose(vals, [[0.8, 0.3, 0.1], [0.7, 0.6, 0.5]], rtol=1e-6)


def test_warm_equals_request_time_fold_in(world, learned):
    model, family = learned
    users = [world.state.users[f"user{k}"] for k in range(40)]
    expected = []
    for user in users:
        cold = LearnedModel(model.artifact, 7, world.state.index)  # no cache: folds in at request time
        expected.append(cold.candidates(world.state, user, 10))
    family.calls.clear()
    assert model.warm(world.state) == 40
    assert max(family.calls) > 1  # batches, not one product per user
    family.calls.clear()
    for user, (items, scores) in zip(users, expected):
        got_items, got_scores = model.candidates(world.state, user, 10)
        assert got_items.tolist() == items.tolist()
        np.testing.assert_allclose(got_scores, scores, rtol=1e-5)
    assert family.calls == []  # every answer came from the warm cache


def test_a_new_event_makes_the_warm_entry_stale(world, learned):
    model, family = learned
    model.warm(world.state)
    user = world.state.users["user0"]
    before, _ = model.candidates(world.state, user, 12)
    world.event("purchase", "user0", world.state.index.ids[int(before[0])])
    family.calls.clear()
    after, _ = model.candidates(world.state, user, 12)
    assert family.calls == [1]  # folded in again, with the new event
    assert int(before[0]) not in after.tolist()  # now part of the history, so not proposed


def test_warm_stops_when_asked_and_respects_the_limit(world, learned):
    model, _ = learned
    assert model.warm(world.state, should_stop=lambda: True) == 0
    assert model.warm(world.state, limit=5) == 5


class WithVectors(ItemItem):
    def item_vectors(self) -> np.ndarray:
        return np.arange(24, dtype=np.float32).reshape(12, 2)


def test_item_vectors_are_placed_at_state_positions(world):
    ids = [f"v{k}" for k in range(12)]
    world.event("view", "someone", "v5")  # the state indexes v5 first: positions differ from columns
    source = LearnedModel(ModelArtifact(WithVectors(np.eye(12)), ids, "vectors", {}), 1, world.state.index)
    positions, vectors = source.item_vectors()
    assert positions.tolist() == [world.state.index.get(i) for i in ids]
    np.testing.assert_array_equal(vectors[5], [10.0, 11.0])
    plain = LearnedModel(ModelArtifact(ItemItem(np.eye(12)), ids, "item-item", {}), 2, world.state.index)
    assert plain.item_vectors() is None  # a family without vectors: diversity by embeddings falls back
