"""The served figure: what the serving pipeline answers for users whose later items are held out.

A model is never seen alone: a user sees the placement's list, the model blended with
co-visitation, session, category affinity, trending and context popularity, screened and
backfilled. This module measures that list without a second implementation of it:

1. :func:`replay_state` builds the online state the servers would have held had some
   (user, item) cells not happened yet: the catalogue, then the event log up to a sequence
   number through the ingest path (:class:`~tastemaker.ingest.processor.StreamProcessor`),
   less every event of a held-out cell (:class:`HeldOutLog`);
2. :func:`served_recommender` puts the serving :class:`~tastemaker.serving.recommender.Recommender`
   on that state with a candidate model;
3. :func:`served_ndcg` asks it, as ``GET /v1/recommendations`` would, for each held-out
   user's list and scores the list against the held-out items (:mod:`tastemaker.holdout`).

The train job learns each placement's blend with it (:mod:`tastemaker.training.blends`) and
gates promotion on it; ``tastemaker evaluate`` reports it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from tastemaker.features.state import OnlineState, StateConfig
from tastemaker.features.toplists import TopListCache
from tastemaker.holdout import ndcg
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.models.candidate_source import CandidateSource
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import Placement
from tastemaker.serving.recommender import Recommender
from tastemaker.serving.request import RecommendationRequest
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import EventLog

_decode_list = msgspec.json.Decoder(list[str]).decode
_encode = msgspec.json.encode


class HeldOutLog:
    """An :class:`~tastemaker.storage.protocols.EventLog` read view: the events up to
    ``to_seq``, less the items of ``held_out`` (user id -> item ids) in each user's events
    (an event left with no item is skipped). What replay reads to build the state of "before".
    """

    def __init__(self, log: EventLog, held_out: Mapping[str, frozenset[str]], to_seq: int):
        self.log, self.held_out, self.to_seq = log, held_out, to_seq

    def read_rows_since(self, seq: int, limit: int = 100_000) -> list[tuple]:
        while seq < self.to_seq:
            raw = self.log.read_rows_since(seq, limit)
            if not raw:
                return []
            rows = [r for r in (self._visible(row) for row in raw if row[0] <= self.to_seq) if r is not None]
            if rows:
                return rows
            seq = raw[-1][0]  # a whole chunk held out: read on (a caller stops at an empty answer)
        return []

    def _visible(self, row: tuple) -> tuple | None:
        hidden = self.held_out.get(row[2])
        if not hidden:
            return row
        item = row[4] if row[4] not in hidden else None
        listed = row[5]
        if listed:
            kept = [i for i in _decode_list(listed) if i not in hidden]
            listed = _encode(kept).decode() if kept else None
        if item is None and not listed:
            return None
        return (*row[:4], item, listed, *row[6:])

    def changed(self) -> bool:
        return True

    def last_seq(self) -> int:
        return self.to_seq


def replay_state(stores: Stores, held_out: Mapping[str, frozenset[str]] | None = None,
                 to_seq: int | None = None, config: StateConfig | None = None) -> OnlineState:
    """The online state of the log up to ``to_seq`` (default: all of it) with the held-out
    cells left out, built by the same ingest code a server replays its log with."""
    to_seq = stores.events.last_seq() if to_seq is None else to_seq
    view = dataclasses.replace(stores, events=HeldOutLog(stores.events, held_out or {}, to_seq))
    processor = StreamProcessor(view, OnlineState(config or StateConfig()), snapshot_key=None)
    processor.catch_up(force=True, snapshot=False)
    processor.state.covisitation.prune()  # serve from one compact cut, as a server after replay does
    return processor.state


def served_recommender(state: OnlineState, model: CandidateSource, placements: PlacementRegistry | None = None,
                       require_catalog: bool = True) -> Recommender:
    """The serving pipeline on a frozen ``state`` (top lists never expire: nothing changes)."""
    toplists = TopListCache(ttl=math.inf)
    return Recommender(state, model, toplists, placements or PlacementRegistry(), require_catalog)


@dataclass(frozen=True)
class HeldOutUser:
    """One user to serve: the held-out item ids the list is judged against."""

    user_id: str
    held: frozenset[str]


def needs_item(placement: Placement) -> bool:
    """Whether the placement's lists start from the item on screen (``item_id``)."""
    return "seed_covisitation" in placement.sources


def served_lists(recommender: Recommender, users: Sequence[HeldOutUser], placement: str, n: int = 10) -> list[list[str]]:
    """The item ids the pipeline serves each user on ``placement`` (``n`` each at most). A
    placement that shows the item on screen is asked about the user's latest item."""
    state = recommender.state
    ids = state.index.ids
    seeded = needs_item(recommender.placement(placement))
    out = []
    for case in users:
        item_id = None
        if seeded:
            user = state.users.get(case.user_id)
            last = user.recent_items(1) if user is not None else []
            item_id = ids[last[0]] if last else None
        top, _ = recommender.candidates(RecommendationRequest(user_id=case.user_id, placement=placement, n=n,
                                                              item_id=item_id))
        out.append([ids[pos] for pos in top.items[:n].tolist()])
    return out


def served_ndcg(recommender: Recommender, users: Sequence[HeldOutUser], placement: str, n: int = 10) -> float:
    """Mean binary nDCG@n of the served lists against each user's held-out items."""
    if not users:
        return 0.0
    hits = np.zeros((len(users), n), bool)
    for row, (case, items) in enumerate(zip(users, served_lists(recommender, users, placement, n))):
        hits[row, : len(items)] = [i in case.held for i in items]
    n_rel = np.fromiter((len(c.held) for c in users), np.int64, len(users))
    return float(ndcg(hits, n_rel).mean())
