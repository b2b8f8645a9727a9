"""features.erasure: un-counting a user leaves the aggregates a log without them would give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tastemaker.features import erasure
from tastemaker.features.popularity import ZERO_RELATIVE
from tastemaker.features.state import OnlineState

T0 = 1_700_000_000.0
GONE = "u-gone"


def make_log(seed: int, n: int = 3000) -> list[tuple]:
    """Raw log rows ``(seq, type, user, session, item, item_ids, value, ts, context, query)``:
    the erased user active throughout, including the first and the latest event."""
    rng = np.random.default_rng(seed)
    types = ["view", "click", "purchase", "rating", "add_to_cart", "dislike", "impression"]
    rows = []
    ts = T0
    for seq in range(1, n + 1):
        ts += float(rng.exponential(30.0))
        user = GONE if seq in (1, n) or rng.random() < 0.15 else f"u{int(rng.integers(40))}"
        item = f"i{int(rng.zipf(1.6)) % 300}"
        kind = types[int(rng.integers(len(types)))]
        value = float(rng.integers(1, 6)) if kind == "rating" else None
        context = json.dumps({"device": ["mobile", "desktop"][int(rng.integers(2))]})
        rows.append((seq, kind, user, None, item, None, value, ts, context, None))
    return rows


def fold(rows: list[tuple]) -> OnlineState:
    state = OnlineState()
    for row in rows:
        state.apply_row(row, erasure._decode_list, erasure._decode_obj)
    return state


def by_id(state: OnlineState) -> tuple[dict, dict, dict, dict]:
    ids = state.index.ids
    at = T0 + 10**6  # one fixed time: values then do not depend on either state's clock
    pop = {ids[i]: v for i, v in enumerate(state.popularity.values_at(at)[: len(ids)]) if v}
    recent = {ids[i]: v for i, v in enumerate(state.recent_popularity.values_at(at)[: len(ids)]) if v}
    state.covisitation.compact(full=True)
    coo = state.covisitation.base.tocoo()
    cov = {(ids[r], ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data) if v}
    sums = {ids[i]: v for i, v in enumerate(state.covisitation.row_sums[: len(ids)]) if v}
    return pop, recent, cov, sums


def close(a: dict, b: dict, rtol: float, atol: float = 0.0) -> None:
    """Equal within ``rtol``, and ``atol`` for values a subtraction cannot resolve: decayed
    counts far below the erased user's terms (popularity.ZERO_RELATIVE of the largest value
    before the erasure) are rounding noise in both, present in one and 0 in the other."""
    for k in a.keys() | b.keys():
        assert a.get(k, 0.0) == pytest.approx(b.get(k, 0.0), rel=rtol, abs=atol), k
    assert {k for k, v in a.items() if v > atol} == {k for k, v in b.items() if v > atol}


def noise(values: dict) -> float:
    return 2 * ZERO_RELATIVE * max(values.values(), default=0.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_uncount_equals_a_rebuild_without_the_user(seed: int):
    rows = make_log(seed)
    live = fold(rows)
    rebuilt = fold([r for r in rows if r[2] != GONE])
    before = by_id(live)
    assert erasure.forget_user(live, GONE)
    scratch = erasure.contribution(live, [r for r in rows if r[2] == GONE])
    erasure.uncount(live, scratch)
    erasure.finish(live, GONE, scratch)
    assert GONE not in live.users and live.users.keys() == rebuilt.users.keys()
    assert live.clock == rebuilt.clock
    pop, recent, cov, sums = by_id(live)
    pop_r, recent_r, cov_r, sums_r = by_id(rebuilt)
    close(pop, pop_r, 1e-9, noise(before[0]))  # float64 sums of positive terms
    close(recent, recent_r, 1e-9, noise(before[1]))
    close(cov, cov_r, 1e-5)  # float32 counts (features.covisitation_erase.ZERO_RELATIVE)
    close(sums, sums_r, 1e-9)
    for name, counter in rebuilt.segments.items():
        ids = rebuilt.index.ids
        mine = dict(zip(live.index.ids, live.segments[name].values_at(T0 + 10**6)))
        theirs = dict(zip(ids, counter.values_at(T0 + 10**6)))
        close({k: v for k, v in mine.items() if v}, {k: v for k, v in theirs.items() if v}, 1e-9, noise(mine) * 1e3)


def test_events_arriving_while_erasing_are_skipped():
    rows = make_log(4, 500)
    live = fold(rows[:400])
    before = by_id(live)
    erasure.forget_user(live, GONE)
    for row in rows[400:]:
        live.apply_row(row, erasure._decode_list, erasure._decode_obj)
    assert GONE not in live.users
    scratch = erasure.contribution(live, [r for r in rows[:400] if r[2] == GONE])
    erasure.uncount(live, scratch)
    erasure.finish(live, GONE, scratch)
    rebuilt = fold([r for r in rows if r[2] != GONE])
    close(by_id(live)[2], by_id(rebuilt)[2], 1e-5)
    close(by_id(live)[0], by_id(rebuilt)[0], 1e-9, noise(before[0]))


def test_snapshot_holds_no_erasing_ids():
    import pickle

    live = fold(make_log(5, 100))
    erasure.forget_user(live, GONE)
    assert GONE.encode() not in pickle.dumps(live)
