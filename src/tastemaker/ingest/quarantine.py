"""Operators' decisions on quarantined events: list them, release them (folded again), confirm them.

The flags live in the quarantine store (``Stores.quarantine``), written by the ingest path
when the guard (features.guard) holds an event; replay reads them, so a decision survives a
restart: a released event is folded again by the replay, a confirmed one stays out, and the
guard is told on start which users were released (trusted) or are bots.
"""

from __future__ import annotations

import msgspec

from tastemaker.features.context import parse_agent
from tastemaker.features.guard import Guard
from tastemaker.features.quarantine import fold_late
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.storage.protocols import QuarantinedUser, QuarantineRecord

_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode
RESTORE_USERS = 1_000_000  # users whose verdicts are read back on start
WARM_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def restore_guard(guard: Guard, processor: StreamProcessor) -> int:
    """Tell a new guard the verdicts of earlier runs: confirmed and held users are bots,
    released users are trusted. Returns how many distinct users it was told of.

    It also makes ua-parser load its regexes now (~0.3 s), not inside the first batch of events.
    """
    parse_agent(WARM_AGENT)
    store = processor.stores.quarantine
    if store is None:
        return 0
    told: set[str] = set()
    for status in ("released", "held", "confirmed"):  # later verdicts win
        for user in store.users(status, limit=RESTORE_USERS):
            if status == "released":
                guard.release(user.user_id)
            else:
                guard.scorer.distrust(user.user_id)  # a verdict after a release replaces the trust
                guard.scorer.flag(user.user_id, user.reasons[0] if user.reasons else status)
            told.add(user.user_id)
    return len(told)


class QuarantineAdmin:
    """What ``/v1/quarantine`` does; call on the thread that folds events (the event loop)."""

    def __init__(self, processor: StreamProcessor):
        self.processor = processor

    @property
    def available(self) -> bool:
        return self.processor.stores.quarantine is not None

    def events(self, status: str | None = None, user_id: str | None = None, after_seq: int = 0,
               limit: int = 100) -> list[QuarantineRecord]:
        return self.processor.stores.quarantine.list(status, user_id, after_seq, limit)

    def users(self, status: str | None = "held", limit: int = 100) -> list[QuarantinedUser]:
        return self.processor.stores.quarantine.users(status, limit)

    def release(self, seqs: list[int] | None = None, user_id: str | None = None) -> list[QuarantineRecord]:
        """Release events (or all of a user's, who is then trusted) and fold them into the state."""
        processor = self.processor
        processor.catch_up(force=True)  # fold late only behind the state's position
        changed = processor.stores.quarantine.decide("released", seqs, user_id)
        guard = processor.guard
        if guard is not None and user_id is not None:
            guard.release(user_id)
        state = processor.state
        for record in changed:
            if record.seq > state.applied_seq:
                continue  # not folded yet: the replay will fold it now that it is released
            rows = processor.stores.events.read_rows_since(record.seq - 1, 1)
            if not rows or rows[0][0] != record.seq:
                continue  # gone from the log (erased or expired)
            seq, event_type, user, session, item, item_ids, value, ts, context = rows[0][:9]
            items = [item] if item is not None else []
            if item_ids:
                items.extend(_decode_list(item_ids))
            query = rows[0][9] if len(rows[0]) > 9 else None
            fold_late(state, seq, event_type, user, session, items, value, ts,
                      _decode_obj(context) if context else None, query)
        return changed

    def confirm(self, seqs: list[int] | None = None, user_id: str | None = None) -> list[QuarantineRecord]:
        """Confirm events as a bot's: they stay out; a confirmed user's later events are held."""
        changed = self.processor.stores.quarantine.decide("confirmed", seqs, user_id)
        guard = self.processor.guard
        if guard is not None:
            for user in {r.user_id for r in changed} | ({user_id} if user_id else set()):
                guard.confirm(user)
        return changed
