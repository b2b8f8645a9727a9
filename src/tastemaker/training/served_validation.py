"""The train job's served validation: the state before a split's held-out cells, the users to
serve, and a model's learned blends and served figure on them.

The train job already holds out a per-user random quarter of the log to compare the new
version with the serving one. Beside it, the cells each user first touched in their last
visit after its opening event (:func:`~tastemaker.evaluation.splits.next_in_visit_split`):
a list is asked for while a visit goes on, and what the visit does next is where real-time
sources earn their weight. The online state is replayed without both sets of cells
(:func:`tastemaker.evaluation.served.replay_state`), a model fitted without them is put
behind the serving pipeline, each placement's blend is learned on users drawn evenly from
the two sets (:mod:`.blends`), and the default placement's served nDCG@10 on them is what
promotion compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.datasets.interactions import InteractionData
from tastemaker.evaluation.served import HeldOutUser, replay_state, served_ndcg, served_recommender
from tastemaker.features.state import OnlineState
from tastemaker.models.artifact import ModelArtifact
from tastemaker.serving.learned import LearnedModel
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.request import DEFAULT_PLACEMENT
from tastemaker.storage.factory import Stores
from tastemaker.training.blends import learn_blends

SERVED_USERS = 500  # held-out users served per evaluation of a blend (seeded sample)


@dataclass
class ServedValidation:
    """The replayed state without the held-out cells and the users whose lists are judged."""

    state: OnlineState
    users: list[HeldOutUser]


def held_out_items(data: InteractionData, held: sp.csr_matrix) -> dict[str, frozenset[str]]:
    """User id -> the item ids of the user's held-out cells."""
    held = sp.csr_matrix(held)
    out = {}
    for row in np.flatnonzero(np.diff(held.indptr)):
        cols = held.indices[held.indptr[row]:held.indptr[row + 1]]
        out[data.user_ids[row]] = frozenset(data.item_ids[c] for c in cols)
    return out


def carve(stores: Stores, data: InteractionData, groups: Sequence[sp.csr_matrix], to_seq: int, seed: int = 0,
          max_users: int = SERVED_USERS) -> ServedValidation:
    """The state of the log up to ``to_seq`` without the cells of any of ``groups`` (held-out
    cell sets of ``data``), and, from each group in turn, a seeded sample of an equal share
    of ``max_users`` users, each judged against that group's cells (a user in two groups is
    judged twice, once per group: the mean weighs the groups alike)."""
    held = sp.csr_matrix(groups[0].shape, dtype=np.float32)
    for group in groups:
        held = held + (sp.csr_matrix(group) != 0).astype(np.float32)
    state = replay_state(stores, held_out_items(data, held), to_seq)
    users: list[HeldOutUser] = []
    share = max(1, max_users // len(groups))
    for k, group in enumerate(groups):
        items = held_out_items(data, group)
        ids = sorted(u for u in items if u in state.users)
        if len(ids) > share:
            ids = sorted(np.random.default_rng(seed + k).choice(ids, share, replace=False).tolist())
        users.extend(HeldOutUser(u, items[u]) for u in ids)
    return ServedValidation(state, users)


def served_blends(validation: ServedValidation, model: Any, item_ids: list[str], family: str,
                  placements: PlacementRegistry, require_catalog: bool = True,
                  progress: Callable[[str], None] | None = None,
                  input_scale: float = 1.0) -> tuple[dict[str, dict[str, Any]], float]:
    """Each placement's learned blend for ``model`` (fitted without the held-out cells, on
    cells multiplied by ``input_scale``) and the default placement's served nDCG@10 with its blend."""
    artifact = ModelArtifact(model, list(item_ids), family, {}, input_scale=input_scale)
    source = LearnedModel(artifact, 0, validation.state.index)
    recommender = served_recommender(validation.state, source, placements, require_catalog)
    blends = learn_blends(recommender, placements, validation.users, progress=progress)
    if DEFAULT_PLACEMENT in blends:
        return blends, blends[DEFAULT_PLACEMENT]["ndcg"]
    return blends, served_ndcg(recommender, validation.users, DEFAULT_PLACEMENT)
