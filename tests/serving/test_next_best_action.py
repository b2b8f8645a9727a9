"""serving.next_best_action: expected values, constraints, the choice, and the daily caps' count."""

from __future__ import annotations

import doctest

from tastemaker.rules.user_expressions import compile_user_expression as e
from tastemaker.serving import next_best_action
from tastemaker.serving.nba_config import NOTHING, Action, NbaSpec
from tastemaker.serving.next_best_action import NbaServing, choose, evaluate, expected_value
from tastemaker.storage.protocols import ImpressionRecord


def test_doctest():
    assert doctest.testmod(next_best_action).failed == 0


def act(name: str, kind: str, p: str, value: str, **kw) -> Action:
    return Action(name, kind, e(p, "number"), e(value, "number"), **kw)


def test_expected_value_clips_p_and_counts_missing_as_zero():
    assert expected_value(act("a", "message", "1.5", "10", cost=1.0), {}.get) == 9.0
    assert expected_value(act("a", "message", "traits.p", "10", cost=1.0), {}.get) == -1.0
    assert expected_value(NOTHING, {}.get) == 0.0


def test_choice_respects_eligibility_floor_and_caps_then_value():
    spec = NbaSpec((act("rich", "offer", "0.9", "100", margin=0.05),
                    act("ok", "offer", "0.5", "40", margin=0.3, when=e("user.orders >= 1")),
                    act("mail", "message", "0.1", "50"), NOTHING),
                   max_offers_per_day=2, max_messages_per_day=1, margin_floor=0.1)
    buyer = {"user.orders": 3}.get
    got = evaluate(spec, buyer, {})
    assert [c["blocked_by"] for c in got] == ["margin_floor", None, None, None]
    assert choose(spec, got).name == "ok"
    assert choose(spec, evaluate(spec, buyer, {"offer": 2})).name == "mail"
    assert choose(spec, evaluate(spec, buyer, {"offer": 2, "message": 1})).name == "nothing"
    assert choose(spec, evaluate(spec, {}.get, {})).name == "mail"  # not eligible for "ok"


def test_ties_go_to_the_first_listed():
    spec = NbaSpec((act("a", "message", "0.5", "2"), act("b", "message", "0.5", "2"), NOTHING))
    assert choose(spec, evaluate(spec, {}.get, {})).name == "a"


def test_sent_today_counts_this_placements_actions_of_the_last_day(tmp_path):
    from tastemaker.config import Settings
    from tastemaker.storage.factory import open_stores

    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    log = stores.impressions
    spec = NbaSpec((act("o", "offer", "1", "1"), act("m", "message", "1", "1"), NOTHING), max_offers_per_day=1)
    now = 10 * 86_400.0
    log.append([ImpressionRecord("r1", "nba", "u", now - 100, ["action:o"]),
                ImpressionRecord("r2", "nba", "u", now - 90_000, ["action:o"]),   # more than a day ago
                ImpressionRecord("r3", "home", "u", now - 50, ["action:o"]),      # another placement
                ImpressionRecord("r4", "nba", "u", now - 40, ["action:m"]),
                ImpressionRecord("r5", "nba", "v", now - 30, ["action:o"])])      # another user
    assert NbaServing(log, clock=lambda: now).sent_today("u", "nba", spec, now) == {"offer": 1, "message": 1}
    stores.close()
