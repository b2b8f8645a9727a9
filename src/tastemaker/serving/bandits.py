"""Bandits on the read path: a placement with a ``bandit:`` section (serving/bandit_config.py)
has its arm chosen per request by the :class:`~tastemaker.experiments.bandit_registry.BanditRegistry`.

* strategy arms: the arm's override is applied to the placement (compiled once per placement
  object and arm, like an experiment variant's);
* item arms: chosen after the pipeline, among the arms the catalogue has and the request's and
  placement's filters allow (the propensity is over those), the item takes position ``slot`` of
  the list (moved there if the list already had it). The placement's business-rule filters
  (rules:) are not applied to it.

The response carries ``bandit: {placement, policy, arm, propensity}`` and an ``experiments``
entry ``{"id": "bandit:<placement>", "variant": arm, "propensity": p}``, which the impression
log stores like an experiment's; the choice is remembered by ``recommendation_id`` so the
outcome events that answer it update the posterior when ingest applies them
(:meth:`BanditServing.observe`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tastemaker.experiments.bandit_registry import BanditDecision, BanditRegistry
from tastemaker.serving.placements import Placement


class BanditServing:
    def __init__(self, registry: BanditRegistry) -> None:
        self.registry = registry
        self._compiled: dict[tuple[int, str], tuple[Placement, Placement]] = {}

    def _spec(self, placement: Placement, kind: str) -> Any:
        spec = placement.bandit
        if spec is None or spec.kind != kind:
            return None
        if self.registry.specs.get(placement.name) is not spec:  # a new or reloaded placement document
            self.registry.install(spec)
        return spec

    def decide(self, placement: Placement, context: dict | None) -> BanditDecision | None:
        """Before the pipeline: the strategy for this request (None: no strategy bandit)."""
        if self._spec(placement, "strategy") is None:
            return None
        return self.registry.choose(placement.name, context)

    def decide_item(self, placement: Placement, context: dict | None, index: Any,
                    allowed: Callable[[np.ndarray], np.ndarray]) -> BanditDecision | None:
        """After the pipeline: the item for the slot among the arms ``index`` knows and ``allowed``
        passes (None: no item bandit, or no arm can be shown)."""
        spec = self._spec(placement, "item")
        if spec is None:
            return None
        known = [(arm, pos) for arm in spec.arms if (pos := index.get(arm)) is not None]
        if not known:
            return None
        mask = allowed(np.array([pos for _, pos in known], dtype=np.int64))
        arms = [arm for (arm, _), ok in zip(known, mask) if ok]
        return self.registry.choose(placement.name, context, arms) if arms else None

    def apply(self, placement: Placement, decision: BanditDecision) -> Placement:
        """``placement`` with the chosen strategy's override (item arms leave it as is)."""
        if decision.kind != "strategy":
            return placement
        spec = self.registry.specs[decision.placement]
        key = (id(placement), decision.arm)
        cached = self._compiled.get(key)
        if cached is not None and cached[0] is placement:
            return cached[1]
        from tastemaker.serving.experiments import compile_override

        out = compile_override(placement, spec.overrides[decision.arm], f"/bandit/arms/{decision.arm}")
        if len(self._compiled) > 4096:
            self._compiled.clear()
        self._compiled[key] = (placement, out)
        return out

    def place_item(self, items: list[dict[str, Any]], decision: BanditDecision) -> None:
        """Put the chosen item at its slot of the response list (strategies: nothing to do)."""
        if decision.kind != "item":
            return
        slot = self.registry.specs[decision.placement].slot
        size = len(items)
        kept = [entry for entry in items if entry["id"] != decision.arm]
        score = items[min(slot, size) - 1]["score"] if items else 0.0
        kept.insert(min(slot - 1, len(kept)), {"id": decision.arm, "score": score, "source": "bandit"})
        # the list keeps its length (its last item makes room); a list shorter than the slot
        # gets the item at its end
        items[:] = kept[:max(size, min(slot, len(kept)))]

    def observe(self, events: list) -> int:
        """Credit the choices that ``events`` (just applied by ingest) answer; how many moved a posterior."""
        registry = self.registry
        if not registry.pending:
            return 0
        return sum(registry.observe_event(e) for e in events)
