"""features.guard: the composed check in log order, a shilling burst taken back, trust, gauges."""

from __future__ import annotations

from tastemaker.features.guard import Guard
from tastemaker.features.quarantine import hold, unfold
from tastemaker.features.shilling import MIN_BURST
from tastemaker.features.state import OnlineState

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def run(guard: Guard, state: OnlineState, events: list[tuple[str, str, str, float]]) -> list:
    out = []
    for user, kind, item, ts in events:
        seq = state.applied_seq + 1
        reason = guard.check(state, seq, kind, user, [item], None, ts, {"user_agent": CHROME})
        if reason:
            hold(state, seq, ts)
        else:
            state.apply(seq, kind, user, None, [item], None, ts, {"user_agent": CHROME})
        out.append(reason)
    flags, retro = guard.take()
    unfold(state, retro)
    return out, flags


def score_of(state: OnlineState, item: str) -> float:
    return float(state.popularity_scores()[state.index.get(item)])


def test_a_shilling_burst_is_held_and_its_first_events_taken_back():
    state, guard = OnlineState(), Guard()
    people = [(f"p{k}", "view", f"i{k % 3}", 1000.0 + 37.0 * k) for k in range(30)]
    run(guard, state, people)
    reference = OnlineState()
    run(Guard(), reference, people)
    shills = [(f"s{k}", "view", "target", 3000.0 + 20.0 * k) for k in range(MIN_BURST + 8)]
    reasons, flags = run(guard, state, shills)
    assert reasons[: MIN_BURST - 1] == [None] * (MIN_BURST - 1) and set(reasons[MIN_BURST - 1:]) == {"shilling"}
    assert len(flags) == len(shills) and {f.reason for f in flags} == {"shilling"}
    assert abs(score_of(state, "target")) < 1e-9  # the first eleven were folded, then taken back out
    reference.clock = state.clock  # held events still move the clock
    assert {i: score_of(state, i) for i in ("i0", "i1", "i2")} == {i: score_of(reference, i) for i in ("i0", "i1", "i2")}
    assert guard.gauges()["quarantine_held_shilling"] == len(shills) and guard.gauges()["guard_shilling_bursts"] == 1


def test_released_users_are_trusted_and_confirmed_ones_held():
    state, guard = OnlineState(), Guard()
    guard.release("ok")
    guard.confirm("bad")
    reasons, _ = run(guard, state, [("ok", "click", "x", 1.0), ("ok", "click", "y", 2.0), ("ok", "click", "z", 3.0),
                                    ("bad", "view", "x", 4.0)])
    assert reasons == [None, None, None, "confirmed"]
    assert guard.scored == 4 and guard.gauges()["guard_events_scored"] == 4.0
