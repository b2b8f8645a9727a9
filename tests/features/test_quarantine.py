"""features.quarantine: held events leave no trace; unfolded ones are taken out exactly; released ones come back."""

from __future__ import annotations

import numpy as np

from tastemaker.features.quarantine import Ledger, fold_late, hold, unfold
from tastemaker.features.state import OnlineState

HUMANS = [("h1", "view", "a", 0.0), ("h1", "view", "b", 30.0), ("h2", "purchase", "b", 40.0),
          ("h2", "view", "c", 90.0), ("h1", "click", "c", 95.0)]
BOT = [("bot", "view", "x", 10.0 + k) for k in range(5)] + [("bot", "view", "a", 20.0), ("bot", "like", "b", 21.0)]


def fold(events, state=None, skip=(), ledger=None) -> OnlineState:
    state = state or OnlineState()
    for seq, (user, kind, item, ts) in enumerate(events, 1):
        if seq in skip:
            hold(state, seq)
            continue
        if ledger is not None:
            ledger.note(state, seq, kind, user, [item], None, ts, {"device": "mobile"})
        state.apply(seq, kind, user, None, [item], None, ts, {"device": "mobile"})
    return state


def covisit(state: OnlineState) -> dict:
    out = {}
    for item in ("a", "b", "c", "x"):
        pos = state.index.get(item)
        if pos is None:
            continue
        cols, vals = state.covisitation.row(pos)
        row = {state.index.ids[int(c)]: round(float(v), 6) for c, v in zip(cols, vals) if v}
        if row:
            out[item] = row
    return out


def popular(state: OnlineState, segment=None) -> dict:
    scores = state.popularity_scores(segment)
    return {item: round(float(scores[state.index.get(item)]), 9) for item in ("a", "b", "c")
            if state.index.get(item) is not None}


def test_unfold_takes_out_exactly_what_the_events_added():
    mixed = sorted(HUMANS + BOT, key=lambda e: e[3])
    bot_seqs = {seq for seq, e in enumerate(mixed, 1) if e[0] == "bot"}
    clean = fold(mixed, skip=bot_seqs)
    ledger = Ledger()
    dirty = fold(mixed, ledger=ledger)
    assert popular(dirty) != popular(clean) and covisit(dirty) != covisit(clean)
    entries = ledger.take(dirty, "bot")
    assert sorted(e.seq for e in entries) == sorted(bot_seqs) and ledger.take(dirty, "bot") == []
    assert unfold(dirty, entries) == len(bot_seqs)
    dirty.clock = clean.clock
    assert popular(dirty) == popular(clean)
    assert popular(dirty, "device=mobile") == popular(clean, "device=mobile")
    trend_dirty, trend_clean = dirty.trending(), clean.trending()
    for item in ("a", "b", "c"):  # positions differ (the bot's item x exists only in the dirty state)
        assert np.isclose(trend_dirty[dirty.index.get(item)], trend_clean[clean.index.get(item)], atol=1e-9)
    assert covisit(dirty) == covisit(clean)


def test_held_events_pass_their_position_and_fold_late_brings_them_back():
    state = OnlineState()
    state.apply(1, "view", "h", None, ["a"], None, 0.0)
    hold(state, 2)
    assert state.applied_seq == 2 and "bot" not in state.users
    hold(state, 1)  # behind the position: nothing moves
    assert state.applied_seq == 2
    state.apply(3, "view", "h", None, ["b"], None, 5.0)
    fold_late(state, 2, "view", "bot", None, ["a"], None, 1.0)
    assert state.applied_seq == 3 and "bot" in state.users
    expected = fold([("h", "view", "a", 0.0), ("bot", "view", "a", 1.0), ("h", "view", "b", 5.0)])
    state.clock = expected.clock
    assert popular(state) == popular(expected)


def test_the_ledger_forgets_users_past_probation():
    from tastemaker.features.quarantine import PROBATION

    state, ledger = OnlineState(), Ledger()
    for seq in range(1, PROBATION + 3):
        ledger.note(state, seq, "view", "regular", [f"i{seq}"], None, float(seq), None)
        state.apply(seq, "view", "regular", None, [f"i{seq}"], None, float(seq))
    assert ledger.take(state, "regular") == []
