"""BanditRegistry: choices remembered by recommendation_id, outcomes move the posterior at once,
unanswered choices expire as 0-reward trials, posteriors survive a restart through the ArtifactStore."""

import doctest
import pickle

import numpy as np
import pytest

from tastemaker.experiments import bandit_registry
from tastemaker.experiments.bandit_registry import ArtifactPosteriors, BanditRegistry, BanditSpec
from tastemaker.schema.records import Event
from tastemaker.storage.local.artifacts import LocalArtifactStore


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_click_on_a_served_list_credits_the_chosen_strategy_once():
    registry = BanditRegistry([BanditSpec("home", "thompson", ("a", "b"))], seed=0)
    d = registry.choose("home", None)
    assert d.arm in ("a", "b") and 0 < d.propensity <= 1
    policy = registry.policy("home")
    i = policy.arms.index(d.arm)
    registry.record("r1", d, ["x", "y"])
    assert not registry.observe("view", "r1", "x")  # a view pays no reward
    assert not registry.observe("click", "r1", "z")  # not an item of that list
    assert not registry.observe("click", "unknown", "x")
    assert policy.alpha[i] == 1.0
    assert registry.observe("click", "r1", "y")
    assert policy.alpha[i] == 2.0 and policy.beta[i] == 1.0
    assert not registry.observe("purchase", "r1", "y")  # one trial per choice
    assert registry.updates == 1


def test_configured_rewards_per_event_type_and_context_recommendation_id():
    spec = BanditSpec("home", "epsilon_greedy", ("a",), rewards={"add_to_cart": 0.5, "purchase": 3.0})
    registry = BanditRegistry([spec], seed=0)
    registry.record("r1", registry.choose("home", None), ["x"])
    event = Event(id="e1", type="purchase", user_id="u", item_id="x", context={"recommendation_id": "r1"})
    assert registry.observe_event(event)
    assert registry.policy("home").reward_sums[0] == 3.0


def test_item_arms_are_credited_only_for_the_chosen_item():
    registry = BanditRegistry([BanditSpec("home", "ucb1", ("i1", "i2"), kind="item", slot=1)], seed=0)
    d = registry.choose("home", None)
    assert (d.arm, d.propensity) == ("i1", 1.0)  # unpulled arms first, in order
    registry.record("r1", d, ["i1", "q"])
    assert not registry.observe("click", "r1", "q")
    assert registry.observe("click", "r1", "i1")
    assert registry.policy("home").reward_sums.tolist() == [1.0, 0.0]


def test_served_trials_count_as_failures_until_an_outcome_and_expire_from_memory():
    clock = Clock()
    registry = BanditRegistry([BanditSpec("home", "thompson", ("a",))], capacity=2, window_s=60, clock=clock,
                              fold_every_s=1.0, seed=0)
    policy = registry.policy("home")
    for rid in ("r1", "r2"):
        registry.record(rid, registry.choose("home", None), ["x"])
    assert policy.beta[0] == 1.0  # not folded yet: choosing within the second reuses the estimate
    clock.now += 1
    registry.record("r3", registry.choose("home", None), ["x"])  # folds r1, r2; over capacity: r1 forgotten
    assert list(registry.pending) == ["r2", "r3"] and policy.beta[0] == 3.0
    assert registry.observe("click", "r3", "x")  # folds r3 first, then turns it into a success
    assert (policy.alpha[0], policy.beta[0]) == (2.0, 3.0)
    clock.now += 61
    registry.record("r4", registry.choose("home", None), ["x"])  # r2 older than the window
    assert list(registry.pending) == ["r4"]
    assert not registry.observe("click", "r1", "x") and not registry.observe("click", "r2", "x")
    registry.save()  # folds what is left even without a store
    assert (policy.alpha[0], policy.beta[0]) == (2.0, 4.0)  # 4 trials, 1 success


def test_a_replaced_policy_forgets_the_old_one_s_trials():
    registry = BanditRegistry([BanditSpec("home", "thompson", ("a",))], seed=0)
    registry.record("r1", registry.choose("home", None), ["x"])
    registry.install(BanditSpec("home", "ucb1", ("a",)))
    assert not registry.observe("click", "r1", "x")
    registry.save()
    assert registry.policy("home").pulls.tolist() == [0.0]


def test_contextual_policy_reads_the_configured_features():
    spec = BanditSpec("home", "linucb", ("a", "b"), features=("mobile", "hour"), params={"alpha": 0.1})
    registry = BanditRegistry([spec], seed=0)
    d = registry.choose("home", {"mobile": True, "hour": 13, "ignored": 5})
    np.testing.assert_array_equal(d.x, [1.0, 1.0, 13.0])
    np.testing.assert_array_equal(spec.context_vector({"hour": "late"}), [1.0, 0.0, 0.0])
    registry.record("r", d, ["x"])
    assert registry.observe("click", "r", "x")
    assert np.any(registry.policy("home").theta(d.arm) != 0)


def test_posteriors_survive_a_restart(tmp_path):
    store = ArtifactPosteriors(LocalArtifactStore(tmp_path))
    clock = Clock()
    spec = BanditSpec("home", "thompson", ("a", "b"))
    first = BanditRegistry([spec], store=store, save_every_s=10, clock=clock, seed=0)
    d = first.choose("home", None)
    first.record("r1", d, ["x"])
    first.observe("click", "r1", "x")
    assert store.load() == {}  # saved at most every 10 s
    clock.now += 11
    first.record("r2", first.choose("home", None), ["x"])
    first.observe("click", "r2", "x")
    second = BanditRegistry([spec], store=store, seed=0)
    assert second.policy("home").alpha.sum() == 4.0  # two successes on top of two Beta(1, 1) priors
    # a changed policy kind starts from its prior; arms added to the spec join the learned ones
    third = BanditRegistry([BanditSpec("home", "thompson", ("a", "b", "c"))], store=store)
    assert third.policy("home").arms[-1] == "c" and third.policy("home").alpha.sum() == 5.0
    assert BanditRegistry([BanditSpec("home", "ucb1", ("a",))], store=store).policy("home").pulls.sum() == 0


def test_unreadable_posteriors_start_from_the_prior(tmp_path):
    artifacts = LocalArtifactStore(tmp_path)
    artifacts.put("bandits/posteriors.pkl", b"not a pickle")
    registry = BanditRegistry([BanditSpec("home", "thompson", ("a",))], store=ArtifactPosteriors(artifacts))
    assert registry.policy("home").alpha.tolist() == [1.0]


def test_bad_specs_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="unknown bandit policy 'nope'"):
        BanditSpec("home", "nope", ("a",))
    with pytest.raises(ValueError, match="distinct"):
        BanditSpec("home", "ucb1", ("a", "a"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BanditSpec("home", "thompson", ("a",), rewards={"purchase": 5.0})
    with pytest.raises(ValueError, match="needs context features"):
        BanditSpec("home", "linucb", ("a",))
    with pytest.raises(ValueError, match="arm kind"):
        BanditSpec("home", "ucb1", ("a",), kind="slot")
    with pytest.raises(ValueError, match="bad parameters"):
        BanditSpec("home", "ucb1", ("a",), params={"temperature": 2}).make_policy()


def test_pickled_state_is_small():
    registry = BanditRegistry([BanditSpec("home", "thompson", tuple(f"arm{i}" for i in range(20)))])
    assert len(pickle.dumps(registry.policies)) < 2000


def test_doctest():
    assert doctest.testmod(bandit_registry).failed == 0


def test_choosing_among_a_subset_of_the_arms():
    registry = BanditRegistry([BanditSpec("home", "epsilon_greedy", ("a", "b", "c"), params={"epsilon": 1.0})], seed=0)
    d = registry.choose("home", None, ["b", "c"])
    assert d.arm in ("b", "c") and d.propensity == 0.5
    with pytest.raises(ValueError, match=r"\['z'\] are not arms of placement 'home'"):
        registry.choose("home", None, ["a", "z"])
