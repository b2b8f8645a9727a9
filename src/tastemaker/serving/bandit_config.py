"""A placement's ``bandit:`` section: the placement (or one slot of it) learns which arm to serve.

Format (inside a placement of the placement document)::

    bandit:
      policy: thompson                 # thompson | ucb1 | epsilon_greedy | linucb | linear_thompson
      arms:                            # strategies: name -> override of the placement
        trending: {blend: {trending: {weight: 1.0}}}
        personal: {}                   # the placement as written
      # or item arms: one of these items takes position `slot` of the list
      # items: [sku-1, sku-2, sku-3]
      # slot: 1
      rewards: {click: 1, add_to_cart: 1, purchase: 1}   # per event type (default: these)
      features: [hour, mobile]         # linucb / linear_thompson: numeric request-context keys
      params: {epsilon: 0.1}           # the policy's parameters (experiments/bandits)

A strategy's override takes the fields of an experiment variant's override (blend, ranker,
rules, diversity; experiments/spec.py) except ``model_version``, and is compiled against the
placement when the document is read, so a broken arm refuses the document, not a request.

>>> from tastemaker.serving.placement_config import load_placements
>>> p = load_placements("placements:\\n  home:\\n    sources: {trending: 1, popular: 1}\\n"
...                     "    bandit:\\n      policy: ucb1\\n      arms: {a: {}, b: {blend: {popular: 0}}}\\n")
>>> p["home"].bandit.policy, p["home"].bandit.arms
('ucb1', ('a', 'b'))
"""

from __future__ import annotations

from typing import Any

from tastemaker.experiments.bandit_registry import DEFAULT_REWARDS, BanditSpec
from tastemaker.experiments.bandits import POLICIES
from tastemaker.experiments.spec import OverrideChecker, parse_override  # the one parser of variant overrides
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.config_document import ConfigChecker
from tastemaker.serving.placements import Placement

BANDIT_FIELDS = ("policy", "arms", "items", "slot", "rewards", "features", "params")
MAX_ARMS = 1000


def bandit_from_config(c: ConfigChecker, doc: Any, path: str, placement: Placement) -> BanditSpec | None:
    """The :class:`BanditSpec` of ``doc`` for ``placement``; errors go to ``c`` (None then)."""
    from tastemaker.serving.experiments import compile_override

    n_errors = len(c.errors)
    d = c.mapping(doc, path, BANDIT_FIELDS)
    if d is None:
        return None
    policy = d.get("policy")
    if policy not in POLICIES:
        c.fail(f"{path}/policy", f"must be one of: {', '.join(sorted(POLICIES))}")
    arms: tuple[str, ...] = ()
    overrides: dict[str, Any] = {}
    kind = "strategy"
    if ("arms" in d) == ("items" in d):
        c.fail(path, "give either arms (strategies: name -> override) or items (item ids for a slot)")
    elif "arms" in d:
        raw = c.mapping(d["arms"], f"{path}/arms", tuple(d["arms"]) if isinstance(d["arms"], dict) else ())
        if raw is not None:
            for name, body in raw.items():
                at = f"{path}/arms/{name}"
                checker = OverrideChecker(lambda p: c.marks.where(p))
                override = parse_override(checker, body if body is not None else {}, at)
                c.errors.extend(checker.errors)
                if override.model_version is not None:
                    c.fail(f"{at}/model_version", "a bandit arm cannot choose a model version (use an experiment)")
                elif not checker.errors:
                    try:
                        compile_override(placement, override, at)
                    except ValidationFailed as exc:
                        c.errors.extend(exc.errors)
                overrides[str(name)] = override
            arms = tuple(map(str, raw))
    else:
        items = d["items"]
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            c.fail(f"{path}/items", "must be a list of item ids")
        else:
            arms, kind = tuple(items), "item"
    if len(arms) > MAX_ARMS:
        c.fail(f"{path}/{'items' if kind == 'item' else 'arms'}", f"at most {MAX_ARMS} arms")
    slot = c.number(d.get("slot", 1), f"{path}/slot", 1, placement.n, integer=True)
    rewards: dict[str, float] = dict(DEFAULT_REWARDS)
    if d.get("rewards") is not None:
        raw = d["rewards"]
        if c.mapping(raw, f"{path}/rewards", tuple(raw) if isinstance(raw, dict) else ()) is not None:
            rewards = {}
            for event_type, value in raw.items():
                v = c.number(value, f"{path}/rewards/{event_type}", -1e6, 1e6)
                if v is not None:
                    rewards[str(event_type)] = float(v)
    features = d.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) and f for f in features):
        c.fail(f"{path}/features", "must be a list of request-context keys")
        features = []
    params = d.get("params") or {}
    if not isinstance(params, dict):
        c.fail(f"{path}/params", "must be a mapping of the policy's parameters")
        params = {}
    if len(c.errors) > n_errors:
        return None
    try:
        spec = BanditSpec(placement.name, policy, arms, kind, int(slot), rewards, tuple(features), dict(params), overrides)
        spec.make_policy()  # parameters checked now, not on the first request
    except ValueError as exc:
        c.fail(path, str(exc))
        return None
    return spec
