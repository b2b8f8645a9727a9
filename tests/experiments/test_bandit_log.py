"""A bandit placement's log as off-policy data: rows, first paying outcome, item arms, stores."""

import doctest

import numpy as np
import pytest
from starlette.testclient import TestClient

from tastemaker.experiments import bandit_log
from tastemaker.experiments.bandit_log import bandit_data_from_stores, logged_bandit_data
from tastemaker.experiments.offpolicy import ips
from tastemaker.ranking.outcomes import Outcome
from tastemaker.storage.protocols import ImpressionRecord


def shown(rid, user, ts, items, arm, p, placement="home"):
    return ImpressionRecord(rid, placement, user, ts, items,
                            experiments=[{"id": "other", "variant": "b", "propensity": 0.5},
                                         {"id": f"bandit:{placement}", "variant": arm, "propensity": p}])


def test_rows_rewards_and_propensities():
    impressions = [shown("r1", "u1", 10.0, ["x", "y"], "b", 0.25), shown("r2", "u2", 11.0, ["x"], "a", 0.75),
                   shown("r3", "u3", 12.0, ["z"], "b", 0.4),
                   ImpressionRecord("r4", "home", "u4", 13.0, ["x"])]  # not a bandit list
    outcomes = [Outcome("u1", "y", "view", 11.0, "r1"),  # pays nothing
                Outcome("u1", "y", "add_to_cart", 12.0, "r1"), Outcome("u1", "y", "purchase", 13.0, "r1"),
                Outcome("u3", "z", "click", 20.0),  # no recommendation_id: user + item within the window
                Outcome("u2", "x", "click", 11.0 + 7200, "r2")]  # outside the window
    rewards = {"click": 1.0, "add_to_cart": 0.5, "purchase": 1.0}
    log, arms = logged_bandit_data(impressions, outcomes, "home", rewards=rewards, window_s=3600)
    assert arms == ["a", "b"]
    assert log.arms.tolist() == [1, 0, 1] and log.propensities.tolist() == [0.25, 0.75, 0.4]
    assert log.rewards.tolist() == [0.5, 0.0, 1.0]  # r1: its first paying outcome only
    # the value of "always b" from these rows, by hand: (0.5 / 0.25 + 1.0 / 0.4) / 3
    target = np.tile([0.0, 1.0], (3, 1))
    assert ips(log, target).value == pytest.approx((0.5 / 0.25 + 1.0 / 0.4) / 3)


def test_item_arms_pay_only_on_the_chosen_item_and_arm_order_can_be_fixed():
    impressions = [shown("r1", "u1", 10.0, ["i1", "q"], "i1", 0.5), shown("r2", "u2", 10.0, ["i2", "q"], "i2", 0.5)]
    outcomes = [Outcome("u1", "q", "click", 11.0, "r1"), Outcome("u2", "i2", "click", 11.0, "r2")]
    log, arms = logged_bandit_data(impressions, outcomes, "home", item_arms=True, arms=["i2", "i1", "i3"])
    assert arms == ["i2", "i1", "i3"] and log.n_arms == 3
    assert log.arms.tolist() == [1, 0] and log.rewards.tolist() == [0.0, 1.0]


def test_refusals():
    with pytest.raises(ValueError, match="no list of placement 'home'"):
        logged_bandit_data([ImpressionRecord("r", "home", "u", 1.0, ["x"])], [], "home")
    with pytest.raises(ValueError, match=r"missing from arms: \['b'\]"):
        logged_bandit_data([shown("r", "u", 1.0, ["x"], "b", 1.0)], [], "home", arms=["a"])


def test_from_the_stores_of_a_served_bandit(client: TestClient):
    client.post("/v1/items", json=[{"id": f"i{k}"} for k in range(10)])
    client.post("/v1/events", json=[{"id": f"v{k}", "type": "view", "user_id": "u", "item_id": f"i{k}"} for k in range(10)])
    client.put("/v1/placements/hero", json={"sources": {"popular": 1, "trending": 1}, "n": 3, "bandit": {
        "policy": "epsilon_greedy", "params": {"epsilon": 0.5}, "arms": {"p": {"blend": {"trending": 0}}, "t": {}}}})
    served = [client.get("/v1/recommendations", params={"user_id": f"u{k}", "placement": "hero"}).json() for k in range(20)]
    for k, body in enumerate(served[:5]):
        client.post("/v1/events", json={"id": f"c{k}", "type": "click", "user_id": f"u{k}", "item_id": body["items"][0]["id"],
                                        "recommendation_id": body["recommendation_id"]})
    engine = client.app.state.engine
    engine.recommender.impressions.flush()
    log, arms = bandit_data_from_stores(engine.stores.impressions, engine.stores.events, "hero")
    assert len(log) == 20 and arms == ["p", "t"]
    assert log.rewards.tolist() == [1.0] * 5 + [0.0] * 15
    assert log.propensities.tolist() == [b["bandit"]["propensity"] for b in served]
    assert [arms[a] for a in log.arms] == [b["bandit"]["arm"] for b in served]


def test_doctest():
    assert doctest.testmod(bandit_log).failed == 0
