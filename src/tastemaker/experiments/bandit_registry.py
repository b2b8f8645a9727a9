"""Bandits at serving time: a policy per placement, choices remembered, posteriors fed by outcomes.

A :class:`BanditSpec` makes a placement (or one slot of it) a bandit over *arms*: strategies
(named variants of the placement: a blend, ranker, rules, diversity) or items (one pinned at
``slot``). :class:`BanditRegistry`:

* :meth:`~BanditRegistry.choose` picks the arm for a request with its propensity (the exact
  probability the policy used, experiments/bandits/base.py);
* :meth:`~BanditRegistry.record` remembers that choice under the response's
  ``recommendation_id`` (bounded: at most ``capacity`` choices, none older than ``window_s``;
  about 450 bytes each with a 10-item list, so the default 100,000 hold ~45 MiB);
* each choice is one trial, counted in the posterior with reward 0 when served (folded in at
  most every ``fold_every_s``, and before any outcome is credited, so a busy placement does not
  re-estimate Thompson propensities on every request);
* :meth:`~BanditRegistry.observe` takes an applied event: if its type pays a reward and it
  answers a remembered choice (``recommendation_id``, or ``context.recommendation_id``; for item
  arms, on the chosen item), the trial's reward is added at once (``policy.add_reward``), so the
  next request sees it. The first paying outcome of a list credits it (later ones on the same
  list do not count again); a choice that leaves the window or the memory stays a 0-reward trial.
* posteriors persist through a :class:`PosteriorStore` (pickled into the ArtifactStore), saved at
  most every ``save_every_s`` and on :meth:`~BanditRegistry.save`; a restart keeps them.

Each serving process learns from the outcomes it applies; processes do not share posteriors
between saves.

>>> import numpy as np
>>> registry = BanditRegistry([BanditSpec("home", "thompson", ("popular", "personal"))], seed=1)
>>> d = registry.choose("home", {})
>>> registry.record("r1", d, ["i1", "i2"], ts=0.0)
>>> registry.observe("click", "r1", "i2", ts=1.0)
True
>>> registry.policy("home").alpha.sum() > 2.0  # one success counted on the chosen arm
np.True_
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from tastemaker.storage.protocols import ArtifactStore

from .bandits import POLICIES, BanditPolicy

log = logging.getLogger(__name__)
DEFAULT_REWARDS = {"click": 1.0, "add_to_cart": 1.0, "purchase": 1.0}
ARM_KINDS = ("strategy", "item")


@dataclass(frozen=True)
class BanditSpec:
    """A placement's bandit: ``policy`` (a :data:`~.bandits.POLICIES` name) over ``arms``."""

    placement: str
    policy: str
    arms: tuple[str, ...]
    kind: str = "strategy"  # strategy: arms name placement variants; item: arms are item ids
    slot: int = 1  # item arms: the 1-based position the chosen item takes
    rewards: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REWARDS))
    features: tuple[str, ...] = ()  # contextual policies: numeric request-context keys (+ an intercept)
    params: dict[str, Any] = field(default_factory=dict)  # policy keyword arguments
    overrides: dict[str, Any] = field(default_factory=dict)  # strategy arm -> its placement override

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown bandit policy '{self.policy}' (known: {', '.join(sorted(POLICIES))})")
        if self.kind not in ARM_KINDS:
            raise ValueError(f"arm kind must be one of {ARM_KINDS}, got '{self.kind}'")
        if not self.arms or len(set(self.arms)) != len(self.arms):
            raise ValueError("a bandit needs at least one arm and distinct arm names")
        for event_type, reward in self.rewards.items():
            if not (isinstance(reward, (int, float)) and math.isfinite(reward)):
                raise ValueError(f"reward for '{event_type}' must be a number")
            if self.policy == "thompson" and not 0 <= reward <= 1:
                raise ValueError(f"thompson rewards lie in [0, 1]; '{event_type}' pays {reward}")
        if POLICIES[self.policy].contextual and not self.features:
            raise ValueError(f"policy '{self.policy}' needs context features")

    def make_policy(self) -> BanditPolicy:
        params = dict(self.params)
        if POLICIES[self.policy].contextual:
            params["n_features"] = len(self.features) + 1
        try:
            return POLICIES[self.policy](**params)
        except TypeError as exc:
            raise ValueError(f"bad parameters for policy '{self.policy}': {exc}") from None

    def context_vector(self, context: dict | None) -> np.ndarray | None:
        """``[1, context[f] for f in features]`` (missing or non-numeric: 0); None when not contextual."""
        if not self.features:
            return None
        context = context or {}
        values = [1.0]
        for name in self.features:
            v = context.get(name)
            values.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                          and math.isfinite(v) else float(v is True))
        return np.array(values)


@dataclass(frozen=True, slots=True)
class BanditDecision:
    placement: str
    arm: str
    propensity: float
    policy: str
    kind: str
    x: np.ndarray | None = None

    def public(self) -> dict[str, Any]:
        """The response's ``bandit`` entry."""
        return {"placement": self.placement, "policy": self.policy, "arm": self.arm,
                "propensity": self.propensity}


@dataclass(slots=True)
class _Pending:
    decision: BanditDecision
    items: tuple[str, ...]
    ts: float


class PosteriorStore(Protocol):
    def load(self) -> dict[str, BanditPolicy]: ...

    def save(self, policies: dict[str, BanditPolicy]) -> None: ...


class ArtifactPosteriors:
    """Posteriors pickled into one ArtifactStore key (atomic replace)."""

    def __init__(self, artifacts: ArtifactStore, key: str = "bandits/posteriors.pkl") -> None:
        self.artifacts, self.key = artifacts, key

    def load(self) -> dict[str, BanditPolicy]:
        data = self.artifacts.get(self.key)
        if data is None:
            return {}
        try:
            loaded = pickle.loads(data)
        except Exception as exc:  # a broken file must not stop serving: start from the priors
            log.error("bandit posteriors in %s cannot be read, starting from priors: %s", self.key, exc)
            return {}
        return {k: v for k, v in loaded.items() if isinstance(v, BanditPolicy)}

    def save(self, policies: dict[str, BanditPolicy]) -> None:
        self.artifacts.put(self.key, pickle.dumps(policies, protocol=pickle.HIGHEST_PROTOCOL))


class BanditRegistry:
    def __init__(self, specs: list[BanditSpec] | tuple[BanditSpec, ...] = (), store: PosteriorStore | None = None,
                 capacity: int = 100_000, window_s: float = 3600.0, save_every_s: float = 5.0, seed: int | None = None,
                 clock: Callable[[], float] = time.time, fold_every_s: float = 1.0) -> None:
        self.store, self.capacity, self.window_s = store, capacity, window_s
        self.save_every_s, self.clock, self.fold_every_s = save_every_s, clock, fold_every_s
        self.rng = np.random.default_rng(seed)
        self.specs: dict[str, BanditSpec] = {}
        self.policies: dict[str, BanditPolicy] = store.load() if store is not None else {}
        self.pending: OrderedDict[str, _Pending] = OrderedDict()
        self._trials: list[BanditDecision] = []  # served, not yet folded into the posterior
        self._folded_at = clock()
        self.updates = 0  # outcomes credited
        self._dirty = False
        self._saved_at = clock()
        self.configure(specs)

    def configure(self, specs: list[BanditSpec] | tuple[BanditSpec, ...]) -> None:
        """Install ``specs`` in place of the current ones."""
        self.specs = {}
        for spec in specs:
            self.install(spec)

    def install(self, spec: BanditSpec) -> None:
        """Install (or replace) one placement's bandit; it keeps its learned posterior while the
        policy stays the same kind (arms added to the spec join the learned ones)."""
        self.specs[spec.placement] = spec
        have = self.policies.get(spec.placement)
        fresh = spec.make_policy()
        if have is None or type(have) is not type(fresh) or getattr(have, "n_features", None) != getattr(
                fresh, "n_features", None):
            self.policies[spec.placement] = have = fresh
            # trials counted in the replaced policy cannot be credited in the fresh one
            self._trials = [d for d in self._trials if d.placement != spec.placement]
            for rid in [r for r, p in self.pending.items() if p.decision.placement == spec.placement]:
                del self.pending[rid]
        for arm in spec.arms:
            have.add_arm(arm)

    def __contains__(self, placement: str) -> bool:
        return placement in self.specs

    def policy(self, placement: str) -> BanditPolicy:
        return self.policies[placement]

    def choose(self, placement: str, context: dict | None, arms: list[str] | None = None) -> BanditDecision:
        """The arm for a request, among ``arms`` (a subset of the spec's: those that can be shown)."""
        spec = self.specs[placement]
        if arms is not None and not set(arms) <= set(spec.arms):
            raise ValueError(f"arms {sorted(set(arms) - set(spec.arms))} are not arms of placement '{placement}'")
        if self._trials and self.clock() - self._folded_at >= self.fold_every_s:
            self._fold()
        x = spec.context_vector(context)
        choice = self.policies[placement].choose(spec.arms if arms is None else arms, x, self.rng)
        return BanditDecision(placement, choice.arm, choice.propensity, spec.policy, spec.kind, x)

    def record(self, recommendation_id: str, decision: BanditDecision, items: list[str], ts: float | None = None) -> None:
        """Remember a served choice until its outcome arrives (or it expires as a 0-reward trial)."""
        now = self.clock() if ts is None else ts
        self.pending[recommendation_id] = _Pending(decision, tuple(items), now)
        self._trials.append(decision)
        self._expire(now)

    def _expire(self, now: float) -> None:
        pending = self.pending
        while pending:
            rid, oldest = next(iter(pending.items()))
            if len(pending) <= self.capacity and now - oldest.ts <= self.window_s:
                break
            del pending[rid]  # its trial stays counted with reward 0

    def observe(self, event_type: str, recommendation_id: str | None, item_id: str | None,
                ts: float | None = None) -> bool:
        """Credit the choice an applied event answers; True when a posterior moved."""
        if recommendation_id is None:
            return False
        entry = self.pending.get(recommendation_id)
        if entry is None:
            return False
        spec = self.specs.get(entry.decision.placement)
        if spec is None or event_type not in spec.rewards:
            return False
        if spec.kind == "item" and item_id != entry.decision.arm:
            return False  # an outcome on another item of the list says nothing about the slot
        if spec.kind == "strategy" and item_id is not None and item_id not in entry.items:
            return False
        del self.pending[recommendation_id]
        self._credit(entry.decision, float(spec.rewards[event_type]))
        self._expire(self.clock() if ts is None else ts)
        return True

    def observe_event(self, event: Any) -> bool:
        """:meth:`observe` for a schema Event (its ``recommendation_id`` or ``context.recommendation_id``;
        the first of its items that the choice is about)."""
        if not self.pending:
            return False  # the ingest path pays one attribute test when nothing waits
        rid = event.recommendation_id or (event.context or {}).get("recommendation_id")
        if not isinstance(rid, str):
            return False
        items = event.items() or [None]
        return any(self.observe(event.type, rid, item) for item in items)

    def _fold(self) -> None:
        """Count the served trials (reward 0 until an outcome adds to it)."""
        trials, self._trials = self._trials, []
        self._folded_at = self.clock()
        for d in trials:
            policy = self.policies.get(d.placement)
            if policy is not None and d.placement in self.specs:
                policy.update(d.arm, 0.0, d.x)
        if trials:
            self._dirty = True

    def _credit(self, decision: BanditDecision, reward: float) -> None:
        policy = self.policies.get(decision.placement)
        if policy is None or decision.placement not in self.specs:
            return  # the bandit was removed meanwhile
        self._fold()  # the trial is counted before its reward is added
        if reward:
            policy.add_reward(decision.arm, reward, decision.x)
        self.updates += 1
        self._dirty = True
        if self.store is not None and self.clock() - self._saved_at >= self.save_every_s:
            self.save()

    def save(self) -> None:
        self._fold()
        if self.store is not None and self._dirty:
            self._saved_at = self.clock()
            try:
                self.store.save({k: v for k, v in self.policies.items() if k in self.specs})
            except Exception as exc:  # a full disk must not fail ingest: keep learning, retry later
                log.error("cannot save bandit posteriors (retrying in %.0f s): %s", self.save_every_s, exc)
                return
            self._dirty = False
