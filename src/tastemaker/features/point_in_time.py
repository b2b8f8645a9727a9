"""Point-in-time feature values: the streaming definitions replayed over the event log.

A training row "as of" log position ``seq`` and time ``ts`` sees exactly the events logged
at or before ``seq``, read at ``ts``: the same :class:`~tastemaker.features.stream.FeatureStore`
the server folds per event is fed the log in log order and read whenever the replay reaches
a requested position. So the value online at serving time (state caught up to ``seq``, read
at ``ts``) and the value offline are the same computation on the same events, equal to the
last bit (tests/features/test_point_in_time.py), and nothing logged later leaks in.

Out-of-order logs: a point reads the windows at its ``ts``, so events logged before it but
stamped after ``ts`` are not counted; if one of them already took the slot of an in-window
bucket (a whole window newer than it), that bucket reads as empty, online and offline alike.
``since_last`` reads the latest time logged so far, so such an event makes it 0.

>>> rows = [(1, "view", "u", None, "a", None, None, 10.0, None), (2, "view", "u", None, "a", None, None, 20.0, None)]
>>> from tastemaker.features.registry import FeatureRegistry
>>> names, values = replay_values(rows, FeatureRegistry().definitions, as_of_each_event(rows), ["user_views_1h"])
>>> values[:, 0].tolist()  # before each event: nothing, then the first view
[0.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.item_index import ItemIndex
from tastemaker.features.stream import FeatureStore

_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode
UNSEEN = 2**62  # the row of an entity not seen yet: past every table, so it reads as empty


@dataclass(frozen=True)
class AsOf:
    """Read ``entity_id``'s features at time ``ts`` over the events logged at or before ``seq``."""

    seq: int
    ts: float
    entity: str
    entity_id: str


def as_of_each_event(rows: Iterable[tuple], entity: str = "user") -> list[AsOf]:
    """One point per log row, just before it (``seq - 1``) at its own time: the features a
    model predicting that event may use. ``entity`` ``item`` takes the row's first item."""
    out = []
    for row in rows:
        seq, _, user_id, _, item_id, item_ids, _, ts = row[:8]
        if entity == "user":
            out.append(AsOf(seq - 1, ts, "user", user_id))
        else:
            first = item_id if item_id is not None else (_decode_list(item_ids) or [None])[0] if item_ids else None
            if first is not None:
                out.append(AsOf(seq - 1, ts, "item", first))
    return out


def note_row(store: FeatureStore, index: ItemIndex, row: tuple) -> None:
    """Feed one raw log row to ``store`` as ``OnlineState.apply`` does."""
    _, event_type, user_id, _, item_id, item_ids, value, ts, context = row[:9]
    items = [item_id] if item_id is not None else []
    if item_ids:
        items.extend(_decode_list(item_ids) if isinstance(item_ids, (str, bytes)) else item_ids)
    if isinstance(context, (str, bytes)):
        context = _decode_obj(context)
    store.note(user_id, event_type, [index.add(i) for i in items], value, ts, context or None)


def replay_values(rows: Iterable[tuple], definitions: Sequence[FeatureDefinition], points: Sequence[AsOf],
                  names: Sequence[str], catalog: CatalogView | None = None) -> tuple[list[str], np.ndarray]:
    """``(names, values)``: ``values[i, j]`` is feature ``names[j]`` of ``points[i]`` (NaN
    for a feature of another entity than the point's, for an unknown entity, or undefined).

    ``rows`` are raw log rows in log order (``EventLog.read_rows_since``); ``catalog``
    (with its item index) supplies prices and categories, else an empty one is used. One
    fold per distinct position read, so points should be many per position or few."""
    catalog = catalog if catalog is not None else CatalogView(ItemIndex())
    store = FeatureStore(definitions)
    store.index, store.catalog = catalog.index, catalog
    by_entity = {d.name: d.entity for d in definitions}
    out = np.full((len(points), len(names)), math.nan)
    order = sorted(range(len(points)), key=lambda i: points[i].seq)
    it = iter(rows)
    pending: Any = next(it, None)
    for i in order:
        p = points[i]
        while pending is not None and pending[0] <= p.seq:
            note_row(store, catalog.index, pending)
            pending = next(it, None)
        row = store.row(p.entity, p.entity_id)
        if row is None:
            row = UNSEEN
        mine = [n for n in names if by_entity.get(n) == p.entity]
        if mine:
            got = store.values(p.entity, np.array([row]), p.ts, mine)
            for j, name in enumerate(names):
                if name in got:
                    out[i, j] = got[name][0]
    return list(names), out
