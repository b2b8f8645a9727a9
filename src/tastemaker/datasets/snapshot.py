"""A consistent snapshot of the event log as columns, the input of every training run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Collection

import msgspec
import numpy as np

from tastemaker.storage.protocols import EventLog

_decode_list = msgspec.json.Decoder(list[str]).decode
CHUNK = 200_000


@dataclass
class EventSnapshot:
    """Columns of every event up to ``to_seq`` (one row per (event, item))."""

    user_id: list[str]
    item_id: list[str]
    type: list[str]
    value: np.ndarray
    timestamp: np.ndarray
    from_seq: int
    to_seq: int

    def columns(self) -> dict[str, object]:
        return {"user_id": self.user_id, "item_id": self.item_id, "type": self.type,
                "value": self.value, "timestamp": self.timestamp}

    def __len__(self) -> int:
        return len(self.user_id)

    def keep_users(self, allowed: Callable[[str], bool]) -> EventSnapshot:
        """The rows of the users ``allowed`` accepts (asked once per user), the log range kept:
        what the train job fits on when some users withheld consent to training."""
        verdict: dict[str, bool] = {}
        keep = np.fromiter((verdict[u] if u in verdict else verdict.setdefault(u, allowed(u)) for u in self.user_id),
                           dtype=bool, count=len(self.user_id))
        if keep.all():
            return self
        rows = np.flatnonzero(keep).tolist()
        return replace(self, user_id=[self.user_id[i] for i in rows], item_id=[self.item_id[i] for i in rows],
                       type=[self.type[i] for i in rows], value=self.value[keep], timestamp=self.timestamp[keep])


def snapshot_events(log: EventLog, to_seq: int | None = None, exclude: Collection[int] = ()) -> EventSnapshot:
    """Read the log up to ``to_seq`` (default: now); events written later are not included, nor
    those whose seq is in ``exclude`` (quarantined: ``QuarantineStore.excluded``)."""
    to_seq = log.last_seq() if to_seq is None else to_seq
    users: list[str] = []
    items: list[str] = []
    types: list[str] = []
    values: list[float] = []
    stamps: list[float] = []
    seq = 0
    first = None
    while seq < to_seq:
        rows = log.read_rows_since(seq, CHUNK)
        if not rows:
            break
        for row in rows:
            if row[0] > to_seq:
                break
            first = row[0] if first is None else first
            if exclude and row[0] in exclude:
                continue
            event_items = [row[4]] if row[4] is not None else []
            if row[5]:
                event_items.extend(_decode_list(row[5]))
            for item in event_items:
                users.append(row[2])
                items.append(item)
                types.append(row[1])
                values.append(np.nan if row[6] is None else row[6])
                stamps.append(row[7])
        seq = rows[-1][0]
    return EventSnapshot(users, items, types, np.asarray(values, dtype=np.float64),
                         np.asarray(stamps, dtype=np.float64), first or 0, min(seq, to_seq))
