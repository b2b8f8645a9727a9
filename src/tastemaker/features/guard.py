"""The guard on the write path: scores each event before it is folded, and says which to hold.

For every event, in log order: the stream anomaly signals count it
(:mod:`tastemaker.features.anomaly`), the bot scorer judges its user
(:mod:`tastemaker.features.bots`), and a positive event of a young user (fewer than
:data:`YOUNG_EVENTS` events folded) feeds the shilling detector
(:mod:`tastemaker.features.shilling`). A held event is not folded
(:func:`tastemaker.features.quarantine.hold`); when a user is first found to be a bot, the
events of theirs that were folded while on probation are taken back out
(:func:`~tastemaker.features.quarantine.unfold`) and held too. The caller (ingest) persists
the flags the guard collected (:meth:`Guard.take`), so a restart replays the same decisions.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tastemaker.features.anomaly import StreamAnomalies
from tastemaker.features.bots import BotScorer
from tastemaker.features.quarantine import Entry, Ledger
from tastemaker.features.shilling import ShillingDetector
from tastemaker.features.state import OnlineState
from tastemaker.features.weights import interest_weight

YOUNG_EVENTS = 6  # users with fewer events folded are "young" to the shilling detector


@dataclass
class Flag:
    seq: int
    user_id: str
    item_id: str | None
    event_type: str
    ts: float
    reason: str


def item_rate(state: OnlineState, item_id: str, ts: float) -> float:
    """The item's usual rate of positive events per second, from popularity's decayed counter
    (a week's half-life: an attack folded so far barely moves it, unlike trending's hour; at
    steady state a counter of half-life h holds rate * h / ln 2)."""
    pos = state.index.get(item_id)
    counter = state.popularity
    raw = counter.raw
    if pos is None or pos >= len(raw):
        return 0.0
    return max(float(raw[pos]) * counter.scale_at(ts), 0.0) * math.log(2) / counter.half_life


class Guard:
    """Bot, shilling and anomaly detection over the events a process folds."""

    def __init__(self) -> None:
        self.scorer = BotScorer()
        self.shilling = ShillingDetector()
        self.anomalies = StreamAnomalies()
        self.ledger = Ledger()
        self.flags: list[Flag] = []  # held since the last take()
        self.retro: list[Entry] = []  # folded events to take back out
        self.held = Counter[str]()  # by reason, since start (a metric)
        self.scored = 0

    def check(self, state: OnlineState, seq: int, event_type: str, user_id: str, items: list[str],
              value: float | None, ts: float, context: dict[str, Any] | None, answered: bool = False) -> str | None:
        """The reason to hold this event (None: fold it). Call before ``state.apply``."""
        self.scored += 1
        item = items[0] if items else None
        self.anomalies.observe(event_type, item, ts)
        scorer = self.scorer
        reason = scorer.score(user_id, event_type, item, ts, context, answered)
        if reason is None:
            # a young user (few events here, and few folded before a restart) feeds the shilling detector
            if item is not None and scorer.last_young and not scorer.last_trusted:
                user = state.users.get(user_id)
                if (user is None or user.event_count < YOUNG_EVENTS) and interest_weight(event_type, value) > 0:
                    reason = self._shilling(state, seq, user_id, item, ts)
            if reason is None:
                self.ledger.note(state, seq, event_type, user_id, items, value, ts, context)
                return None
        if scorer.last_new:  # first judged now: what was folded of theirs goes back out
            self._take_back(state, user_id, reason)
        self.flags.append(Flag(seq, user_id, item, event_type, ts, reason))
        self.held[reason] += 1
        return reason

    def _shilling(self, state: OnlineState, seq: int, user_id: str, item: str, ts: float) -> str | None:
        scorer = self.scorer
        if not self.shilling.attacked(item, ts):
            burst = self.shilling.observe(item, user_id, ts, seq, lambda: item_rate(state, item, ts))
            if burst is None:
                return None
            for _, burst_user in burst:
                if burst_user != user_id and scorer.verdict(burst_user) is None and not scorer.is_trusted(burst_user):
                    scorer.flag(burst_user, "shilling")
                    self._take_back(state, burst_user, "shilling")
        scorer.flag(user_id, "shilling")
        scorer.last_new = True
        return "shilling"

    def _take_back(self, state: OnlineState, user_id: str, reason: str) -> None:
        entries = self.ledger.take(state, user_id)
        self.retro.extend(entries)
        for e in entries:
            self.flags.append(Flag(e.seq, user_id, e.item_id, e.event_type, e.ts, reason))
            self.held[reason] += 1

    def take(self) -> tuple[list[Flag], list[Entry]]:
        """The flags to persist and the folded entries to unfold since the last call."""
        flags, retro = self.flags, self.retro
        self.flags, self.retro = [], []
        return flags, retro

    def release(self, user_id: str | None) -> None:
        """An operator released the user (or some events): the user is trusted from now on."""
        if user_id is not None:
            self.scorer.trust(user_id)

    def confirm(self, user_id: str, reason: str = "confirmed") -> None:
        """An operator confirmed the user is a bot: their events are held from now on."""
        self.scorer.flag(user_id, reason)
        self.ledger.users[user_id] = None  # nothing more of theirs is folded: nothing to record

    def gauges(self) -> dict[str, float]:
        """Prometheus gauges: anomaly z-scores and alerts, events scored and held by reason."""
        out = self.anomalies.gauges()
        out["guard_events_scored"] = float(self.scored)
        out["guard_shilling_bursts"] = float(self.shilling.bursts)
        for reason in ("user_agent", "rate", "regular_gaps", "click_without_view", "shilling"):
            out[f"quarantine_held_{reason}"] = float(self.held.get(reason, 0))
        return out
