"""training.blends: the placement blend learned on served lists, on streams whose right blend is known."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tastemaker.evaluation.served import HeldOutUser, served_ndcg, served_recommender
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.schema.records import Item
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, SourceSpec, with_blend
from tastemaker.training.blends import learn_blend, learn_blends, neighbours

T0 = 1_700_000_000.0
USERS = [f"u{k}" for k in range(12)]


class FixedModel:
    """A candidate source that proposes, for each user, a fixed list of item ids, best first."""

    name, version, blends = "fixed", "1", {}

    def __init__(self, state: OnlineState, lists: dict[str, list[str]]):
        self.by_user = {id(state.users[u]): [state.index.get(i) for i in items] for u, items in lists.items()}

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        positions = self.by_user.get(id(user), [])[:n]
        return np.array(positions, np.int64), np.linspace(1.0, 0.5, len(positions))

    def item_vectors(self) -> None:
        return None


def stream() -> tuple[OnlineState, dict[str, list[str]], dict[str, list[str]]]:
    """Each user viewed two history items; strangers co-visit each history item with two
    "neighbour" items; each user has two "own" items no event points to. Returns the state,
    each user's neighbours and each user's own items."""
    state = OnlineState()
    for k in range(len(USERS) * 8):
        state.catalog.upsert(Item(id=f"i{k}", categories=["all"]))
    seq, ts = 0, T0

    def view(user: str, item: str) -> None:
        nonlocal seq, ts
        seq, ts = seq + 1, ts + 1
        assert state.apply(seq, "view", user, None, [item], None, ts)

    neighbours_of, own = {}, {}
    for k, user in enumerate(USERS):
        history = [f"i{8 * k}", f"i{8 * k + 1}"]
        neighbours_of[user] = [f"i{8 * k + 2}", f"i{8 * k + 3}"]
        own[user] = [f"i{8 * k + 4}", f"i{8 * k + 5}"]
        for s in range(4):  # strangers' sessions: history item then its neighbours
            for item in (history[s % 2], *neighbours_of[user]):
                view(f"stranger-{k}-{s}", item)
        for item in history:
            view(user, item)
    return state, neighbours_of, own


def held_out(targets: dict[str, list[str]]) -> list[HeldOutUser]:
    return [HeldOutUser(u, frozenset(targets[u])) for u in USERS]


def test_a_model_that_knows_the_future_takes_over_the_blend():
    state, neighbours_of, own = stream()
    # the model proposes each user's own (held-out) items first; co-visitation the neighbours
    model = FixedModel(state, {u: own[u] + neighbours_of[u] for u in USERS})
    recommender = served_recommender(state, model, require_catalog=True)
    home = DEFAULT_PLACEMENTS["home"]
    users = held_out(own)
    learned = learn_blend(recommender, home, users)
    assert learned["start_ndcg"] < 0.9  # the hand-set blend puts co-visitation's neighbours first
    assert learned["ndcg"] == pytest.approx(1.0)
    weights = learned["weights"]
    assert all(weights[s] < weights["user_model"] for s in weights if s != "user_model")
    # what was learned is what the pipeline serves with it: the figure is reproduced
    recommender.placements = PlacementRegistry(placements={"home": with_blend(home, weights, learned["n"])})
    assert served_ndcg(recommender, users, "home") == pytest.approx(learned["ndcg"])


def test_a_wrong_model_is_weighed_out_and_co_visitation_kept():
    state, neighbours_of, own = stream()
    model = FixedModel(state, {u: own[u] for u in USERS})  # proposes what the user never takes
    recommender = served_recommender(state, model, require_catalog=True)
    learned = learn_blend(recommender, DEFAULT_PLACEMENTS["home"], held_out(neighbours_of))
    assert learned["ndcg"] == pytest.approx(1.0)
    assert learned["weights"]["user_model"] < learned["weights"]["covisitation"]
    assert learned["ndcg"] >= learned["start_ndcg"]


def test_weights_written_in_a_placement_document_are_never_learned():
    state, neighbours_of, own = stream()
    model = FixedModel(state, {u: own[u] + neighbours_of[u] for u in USERS})
    recommender = served_recommender(state, model, require_catalog=True)
    home = DEFAULT_PLACEMENTS["home"]
    written = replace(home, sources={**home.sources, "covisitation": SourceSpec(1.0, explicit=True)})
    learned = learn_blend(recommender, written, held_out(own))
    assert "covisitation" not in learned["weights"]
    served = with_blend(written, {**learned["weights"], "covisitation": 0.0})
    assert served.sources["covisitation"].weight == 1.0  # the document's weight stands


def test_learn_blends_covers_every_placement_with_a_choice_and_leaves_the_search_state_clean():
    state, neighbours_of, own = stream()
    model = FixedModel(state, {u: own[u] for u in USERS})
    recommender = served_recommender(state, model, require_catalog=True)
    before = (recommender.placements, recommender.sources)
    table = PlacementRegistry(placements={
        "home": DEFAULT_PLACEMENTS["home"],
        "single": replace(DEFAULT_PLACEMENTS["home"], name="single", sources={"user_model": SourceSpec(1.0)}),
    })
    blends = learn_blends(recommender, table, held_out(own))
    assert set(blends) == {"home"}  # one source: nothing to blend
    assert (recommender.placements, recommender.sources) == before


def test_neighbours_scale_the_weight_and_bring_a_dropped_source_back():
    assert neighbours(2.0) == [0.0, 0.5, 1.0, 4.0, 8.0]
    assert neighbours(0.0) == [0.1]
