"""OnlineState: every piece of real-time state, folded from the event log in log order.

The state is a pure function of the log (and the catalog): replaying the same events gives
the same state, which is how a restarted server gets everything back (a snapshot plus the
events after it) and how several workers sharing one data dir agree.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.covisitation import CoVisitationIndex
from tastemaker.features.definitions import DEFAULT_DEFINITIONS, FeatureDefinition
from tastemaker.features.customers import CustomerLedger
from tastemaker.features.item_index import ItemIndex
from tastemaker.features.popularity import DecayedCounter, trending_scores
from tastemaker.features.stream import FeatureStore
from tastemaker.features.user_snapshot import pack_users, unpack_users
from tastemaker.features.user_state import UserState
from tastemaker.features.weights import interest_weight
from tastemaker.storage.protocols import ArtifactStore

SEGMENT_KEYS = ("channel", "device", "locale", "geo")
MAX_SEGMENTS = 256
COVISIT_RECENT = 10  # pair an item with this many of the user's latest items
COVISIT_WINDOW_S = 86_400.0
SNAPSHOT_FORMAT = 7  # 7: streaming features (features.stream); 3: UserState.interest; 4: users as columns (features.user_snapshot); 5: one slab per user;
# 6: co-visitation counts float32, base rows heaviest first, no pre-cut copy (features.covisitation_merge)


@dataclass
class StateConfig:
    session_timeout_s: float = 1800.0
    popularity_half_life_s: float = 7 * 86_400.0
    trending_half_life_s: float = 3_600.0
    # the streaming feature definitions folded per event (features.registry)
    features: tuple[FeatureDefinition, ...] = DEFAULT_DEFINITIONS


def context_segments(context: dict[str, Any] | None) -> list[str]:
    """The segment keys (``device=mobile``) an event or request context falls into.

    >>> context_segments({"device": "mobile", "geo": {"country": "DE"}, "referrer": "x"})
    ['device=mobile', 'geo=DE']
    """
    if not context:
        return []
    out = []
    for key in SEGMENT_KEYS:
        value = context.get(key)
        if isinstance(value, dict):
            value = value.get("country")
        if isinstance(value, str) and value:
            out.append(f"{key}={value[:64]}")
    return out


@dataclass
class OnlineState:
    config: StateConfig = field(default_factory=StateConfig)
    index: ItemIndex = field(default_factory=ItemIndex)
    users: dict[str, UserState] = field(default_factory=dict)
    covisitation: CoVisitationIndex = field(default_factory=CoVisitationIndex)
    applied_seq: int = 0
    catalog_version: int = 0
    clock: float = 0.0  # the latest event time seen: "now" for decay, whatever the wall clock says

    def __post_init__(self) -> None:
        self.catalog = CatalogView(self.index)
        self.popularity = DecayedCounter(self.config.popularity_half_life_s)
        self.recent_popularity = DecayedCounter(self.config.trending_half_life_s)
        self.segments: dict[str, DecayedCounter] = {}
        self.features = FeatureStore(self.config.features)  # windowed counters, rates, trends
        self.bind_features()
        self.version = 0  # bumped on every change; caches key on it
        # Users being erased (features.erasure): their events are skipped until the log no
        # longer has them. In memory only, never in a snapshot.
        self.erasing: set[str] = set()
        self.customers = CustomerLedger()  # activity days, orders, revenue: lifecycle, RFM, churn

    # -- write side ---------------------------------------------------------------------
    def apply(
        self,
        seq: int,
        event_type: str,
        user_id: str,
        session_id: str | None,
        items: Iterable[str],
        value: float | None,
        ts: float,
        context: dict[str, Any] | None = None,
        query: str | None = None,
    ) -> bool:
        """Fold one event into the state; events at or below ``applied_seq`` are skipped."""
        if seq <= self.applied_seq:
            return False
        self.applied_seq = seq
        self.version += 1
        if self.erasing and user_id in self.erasing:
            return True
        if ts > self.clock:
            self.clock = ts
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = UserState(first_ts=ts)
        user.touch_session(session_id, ts, self.config.session_timeout_s, user_id)
        user.record_event(event_type, ts)
        self.customers.observe(user_id, event_type, value, ts)
        if query:
            user.add_query(query)
        weight = interest_weight(event_type, value)
        segments = context_segments(context) if weight > 0 else ()
        add = self.index.add
        positions = [add(item_id) for item_id in items]
        features = self.features
        if features.definitions:  # none defined: not even the append
            features.note(user_id, event_type, positions, value, ts, context)
        for pos in positions:
            if event_type == "impression":
                continue
            if event_type == "purchase":
                user.add_purchased(pos)
            elif event_type == "rating":
                user.add_rated(pos)
            elif event_type == "dislike":
                user.add_disliked(pos)
            if weight <= 0:
                if event_type == "rating":  # a rating at or below neutral: a seen item's weight drops to 0
                    user.note_interest(pos, weight, rating=True)
                continue
            user.note_interest(pos, weight, rating=event_type == "rating")  # makes the item seen
            self.popularity.add(pos, weight, ts)
            self.recent_popularity.add(pos, weight, ts)
            for segment in segments:
                counter = self.segments.get(segment)
                if counter is None and len(self.segments) < MAX_SEGMENTS:
                    counter = self.segments[segment] = DecayedCounter(self.config.popularity_half_life_s)
                if counter is not None:
                    counter.add(pos, weight, ts)
            self.covisitation.add(pos, user.partners(pos, ts, COVISIT_RECENT, COVISIT_WINDOW_S), weight)
            for category in self.catalog.categories.get(pos, ()):
                user.add_affinity(category, weight)
            user.remember(pos, ts, event_type)
        return True

    def apply_row(self, row: tuple, decode_list, decode_obj) -> bool:
        """Apply a raw event-log row ``(seq, type, user, session, item, item_ids, value, ts, context[, query])``."""
        seq, event_type, user_id, session_id, item_id, item_ids, value, ts, context = row[:9]
        query = row[9] if len(row) > 9 else None  # replay must remember searches like the live path
        items = [item_id] if item_id is not None else []
        if item_ids:
            items.extend(decode_list(item_ids))
        return self.apply(seq, event_type, user_id, session_id, items, value, ts, decode_obj(context) if context else None, query)

    def bind_features(self) -> None:
        """Point the feature store at this state's item index and catalog (prices, categories)."""
        self.features.index, self.features.catalog = self.index, self.catalog

    # -- read side ----------------------------------------------------------------------
    def popularity_scores(self, segment: str | None = None) -> np.ndarray:
        counter = self.segments.get(segment) if segment else self.popularity
        if counter is None:
            return np.zeros(len(self.index))
        out = np.zeros(len(self.index))
        values = counter.values_at(self.clock)[: len(self.index)]
        out[: len(values)] = values
        return out

    def trending(self) -> np.ndarray:
        return trending_scores(self.recent_popularity, self.popularity, self.clock, len(self.index))

    # -- persistence --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["users"] = pack_users(self.users)  # columns: a warm start slices, not unpickles, users
        state.pop("erasing", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["users"] = unpack_users(state["users"], UserState)  # ValueError for another table format
        state["erasing"] = set()
        state.setdefault("customers", CustomerLedger())  # a snapshot from before features.customers
        self.__dict__.update(state)
        self.bind_features()

    def save(self, artifacts: ArtifactStore, key: str) -> None:
        """Write a snapshot to the artifact store, atomically: a failure (a full disk, an
        interrupt) leaves the previous snapshot and nothing half-written."""
        self.covisitation.compact(full=True)
        artifacts.put_stream(key, lambda fh: pickle.dump((SNAPSHOT_FORMAT, self), fh, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(artifacts: ArtifactStore, key: str) -> OnlineState | None:
        """The snapshot under ``key``, or None if there is none or it is from another format."""
        fh = artifacts.open(key)
        if fh is None:
            return None
        try:
            with fh:
                fmt, state = pickle.load(fh)
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as exc:
            # An unreadable snapshot costs a replay of the log, never the data.
            logging.getLogger(__name__).warning("ignoring snapshot %s: %s", key, exc)
            return None
        return state if fmt == SNAPSHOT_FORMAT else None
