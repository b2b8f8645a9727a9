"""features.bots: each signal on the behaviour it names, and none on a person's."""

from __future__ import annotations

import numpy as np

from tastemaker.features.bots import BLIND_CLICKS, RATE_MAX, REGULAR_RUN, BotScorer

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def run(scorer: BotScorer, user: str, events: list[tuple[str, str | None, float]], ua: str = CHROME) -> list:
    return [scorer.score(user, t, item, ts, {"user_agent": ua}) for t, item, ts in events]


def test_crawler_and_http_library_agents_are_bots_from_their_first_event():
    s = BotScorer()
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert run(s, "g", [("view", "i1", 0.0)], googlebot) == ["user_agent"]
    assert run(s, "c", [("view", "i1", 0.0)], "curl/8.4.0") == ["user_agent"]
    assert run(s, "g", [("view", "i2", 500.0)], CHROME) == ["user_agent"]  # the verdict sticks to the user


def test_faster_than_a_person_is_rate():
    s = BotScorer()
    jitter = np.random.default_rng(1).uniform(0.2, 0.6, RATE_MAX + 2)
    out = run(s, "fast", [("view", f"i{k}", float(t)) for k, t in enumerate(np.cumsum(jitter))])
    assert out[:RATE_MAX] == [None] * RATE_MAX and out[RATE_MAX] == "rate"


def test_a_batch_sharing_one_timestamp_counts_once():
    s = BotScorer()
    assert set(run(s, "app", [("view", f"i{k}", 100.0) for k in range(50)])) == {None}


def test_a_timer_is_regular_gaps_and_jittered_gaps_are_not():
    s = BotScorer()
    out = run(s, "timer", [("view", f"i{k}", 7.0 * k + 1e-4 * (k % 2)) for k in range(REGULAR_RUN + 2)])
    assert out[REGULAR_RUN] == "regular_gaps" and out[REGULAR_RUN - 1] is None
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.lognormal(np.log(20.0), 0.9, 60))
    assert set(run(s, "person", [("view", f"i{k}", float(t)) for k, t in enumerate(times)])) == {None}


def test_clicks_on_items_never_viewed():
    s = BotScorer()
    events = [("click", f"i{k}", 30.0 * k) for k in range(BLIND_CLICKS)]
    assert run(s, "clicker", events)[-1] == "click_without_view"
    viewed = [e for k in range(5) for e in (("view", f"i{k}", 60.0 * k), ("click", f"i{k}", 60.0 * k + 4))]
    assert set(run(s, "shopper", viewed)) == {None}
    # a click on a recommended item (recommendation_id) counts the list as the view
    assert s.score("r", "click", "x", 0.0, None, answered=True) is None


def test_trust_and_distrust():
    s = BotScorer()
    run(s, "b", [("view", "i1", 0.0)], "curl/8.4.0")
    s.trust("b")
    assert s.is_trusted("b") and run(s, "b", [("view", "i1", 1.0)], "curl/8.4.0") == [None]
    s.distrust("b")
    assert run(s, "b", [("view", "i1", 2.0)], "curl/8.4.0") == ["user_agent"]
    s.flag("x", "confirmed")
    assert s.verdict("x") == "confirmed" and s.events_seen("x") == 0
