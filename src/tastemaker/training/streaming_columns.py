"""Streaming features as extra ranker columns, point in time.

Each logged impression gets ``stream:NAME`` columns: the user's and each item's streaming
feature as of the event-log position and time it was served (features.point_in_time), the
values the server computes for the same columns (``FeatureStore.candidate_columns``) when a
ranker trained with them serves. Nothing logged after the impression leaks in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.item_index import ItemIndex
from tastemaker.features.point_in_time import AsOf, replay_values
from tastemaker.ranking.features import STREAM_PREFIX
from tastemaker.ranking.ltr import Impression
from tastemaker.storage.factory import Stores

CHUNK = 50_000


def log_rows(stores: Stores, upto: int) -> Iterator[tuple]:
    """The event log's raw rows up to position ``upto``, in log order."""
    seq = 0
    while seq < upto:
        rows = stores.events.read_rows_since(seq, CHUNK)
        if not rows:
            return
        for row in rows:
            if row[0] > upto:
                return
            yield row
        seq = rows[-1][0]


def catalog_of(stores: Stores) -> CatalogView:
    """The catalog as it is now (prices and categories are not versioned)."""
    catalog = CatalogView(ItemIndex())
    for item in stores.items.iter_all():
        catalog.upsert(item)
    return catalog


def with_streaming_features(stores: Stores, impressions: Sequence[Impression], names: Sequence[str],
                            definitions: Sequence[FeatureDefinition]) -> list[Impression]:
    """``impressions`` with a ``stream:NAME`` column per user or item feature in ``names``
    appended to their feature rows (user features repeated down the list)."""
    by_name = {d.name: d.entity for d in definitions}
    unknown = [n for n in names if by_name.get(n) not in ("user", "item")]
    if unknown:
        raise ValueError(f"not user or item features: {', '.join(unknown)}")
    points: list[AsOf] = []
    for imp in impressions:
        points.append(AsOf(imp.log_seq, imp.ts, "user", imp.user_id))
        points.extend(AsOf(imp.log_seq, imp.ts, "item", item) for item in imp.items)
    upto = max((imp.log_seq for imp in impressions), default=0)
    _, values = replay_values(log_rows(stores, upto), definitions, points, list(names), catalog_of(stores))
    out, at = [], 0
    user_cols = np.array([by_name[n] == "user" for n in names])
    for imp in impressions:
        user_row, rows = values[at], values[at + 1: at + 1 + len(imp.items)]
        at += 1 + len(imp.items)
        extra = np.where(user_cols, user_row, rows)  # (items, names)
        out.append(replace(imp, features=np.hstack([imp.features, extra.astype(imp.features.dtype)]),
                           feature_names=tuple(imp.feature_names) + tuple(STREAM_PREFIX + n for n in names)))
    return out
