"""The placement document's bandit section: specs as written, every refusal names its field."""

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placement_config import load_placements, placement_from_json
from tastemaker.experiments.bandit_registry import DEFAULT_REWARDS

DOC = """placements:
  home:
    sources: {trending: 1, popular: 1}
    n: 5
    bandit:
      policy: linucb
      arms:
        trending-only: {blend: {popular: 0}}
        as-written: {}
      rewards: {click: 1, purchase: 5}
      features: [hour]
      params: {alpha: 0.3}
"""


def test_strategy_arms_with_rewards_features_and_params():
    spec = load_placements(DOC)["home"].bandit
    assert (spec.placement, spec.policy, spec.arms, spec.kind) == ("home", "linucb", ("trending-only", "as-written"), "strategy")
    assert spec.rewards == {"click": 1.0, "purchase": 5.0} and spec.features == ("hour",)
    assert spec.make_policy().alpha == 0.3 and spec.make_policy().n_features == 2
    assert spec.overrides["trending-only"].blend == {"popular": {"weight": 0.0}}


def test_item_arms_default_rewards_and_no_bandit():
    p = placement_from_json("hero", {"sources": {"popular": 1}, "n": 4,
                                     "bandit": {"policy": "thompson", "items": ["a", "b"], "slot": 2}})
    assert (p.bandit.kind, p.bandit.arms, p.bandit.slot, p.bandit.rewards) == ("item", ("a", "b"), 2, DEFAULT_REWARDS)
    assert placement_from_json("plain", {"sources": {"popular": 1}}).bandit is None


@pytest.mark.parametrize("bandit, field", [
    ({"policy": "nope", "arms": {"a": {}}}, "/bandit/policy"),
    ({"policy": "ucb1"}, "/bandit"),
    ({"policy": "ucb1", "arms": {"a": {}}, "items": ["x"]}, "/bandit"),
    ({"policy": "ucb1", "arms": {"a": {"blend": {"nosuch": 1}}}}, "/bandit/arms/a/blend/nosuch"),
    ({"policy": "ucb1", "arms": {"a": {"ranker": "magic"}}}, "/bandit/arms/a/ranker"),
    ({"policy": "ucb1", "arms": {"a": {"model_version": 3}}}, "/bandit/arms/a/model_version"),
    ({"policy": "ucb1", "items": ["x"], "slot": 50}, "/bandit/slot"),
    ({"policy": "ucb1", "items": "x"}, "/bandit/items"),
    ({"policy": "ucb1", "items": ["x"], "rewards": {"click": "lots"}}, "/bandit/rewards/click"),
    ({"policy": "thompson", "items": ["x"], "rewards": {"purchase": 5}}, "/bandit"),
    ({"policy": "linucb", "items": ["x"]}, "/bandit"),
    ({"policy": "ucb1", "items": ["x"], "params": {"temperature": 1}}, "/bandit"),
    ({"policy": "ucb1", "items": ["x"], "colour": "red"}, "/bandit/colour"),
])
def test_refusals_name_the_field(bandit, field):
    with pytest.raises(ValidationFailed) as info:
        placement_from_json("home", {"sources": {"popular": 1}, "n": 10, "bandit": bandit})
    assert field in [e.field for e in info.value.errors], info.value.errors


def test_yaml_errors_carry_the_line():
    with pytest.raises(ValidationFailed, match=r"/placements/home/bandit/policy: line 6"):
        load_placements(DOC.replace("policy: linucb", "policy: greedy"))


def test_doctest():
    import doctest

    from tastemaker.serving import bandit_config
    assert doctest.testmod(bandit_config).failed == 0
