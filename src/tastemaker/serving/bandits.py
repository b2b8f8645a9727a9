"""Bandits on the read path: a placement with a ``bandit:`` section (serving/bandit_config.py)
has its arm chosen per request by the :class:`~tastemaker.experiments.bandit_registry.BanditRegistry`.

* strategy arms: the arm's override is applied to the placement (compiled once per placement
  object and arm, like an experiment variant's);
* item arms: the chosen item takes position ``slot`` of the list (moved there if the list
  already had it; left out, and the choice not recorded, when the catalogue lacks it).

The response carries ``bandit: {placement, policy, arm, propensity}`` and an ``experiments``
entry ``{"id": "bandit:<placement>", "variant": arm, "propensity": p}``, which the impression
log stores like an experiment's; the choice is remembered by ``recommendation_id`` so the
outcome events that answer it update the posterior when ingest applies them
(:meth:`BanditServing.observe`).
"""

from __future__ import annotations

from typing import Any

from tastemaker.experiments.bandit_registry import BanditDecision, BanditRegistry
from tastemaker.serving.placements import Placement


class BanditServing:
    def __init__(self, registry: BanditRegistry) -> None:
        self.registry = registry
        self._compiled: dict[tuple[int, str], tuple[Placement, Placement]] = {}

    def decide(self, placement: Placement, context: dict | None) -> BanditDecision | None:
        """The arm for this request, or None when the placement is no bandit."""
        spec = placement.bandit
        if spec is None:
            return None
        if self.registry.specs.get(placement.name) is not spec:  # a new or reloaded placement document
            self.registry.install(spec)
        return self.registry.choose(placement.name, context)

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

    def place_item(self, items: list[dict[str, Any]], decision: BanditDecision, known: bool) -> bool:
        """Put the chosen item at its slot of the response list; False when it cannot be shown."""
        if decision.kind != "item":
            return True
        if not known:
            return False
        slot = self.registry.specs[decision.placement].slot
        size = len(items)
        kept = [entry for entry in items if entry["id"] != decision.arm]
        score = items[min(slot, size) - 1]["score"] if items else 0.0
        kept.insert(min(slot - 1, len(kept)), {"id": decision.arm, "score": score, "source": "bandit"})
        # the list keeps its length (its last item makes room); a list shorter than the slot
        # gets the item at its end
        items[:] = kept[:max(size, min(slot, len(kept)))]
        return True

    def observe(self, events: list) -> int:
        """Credit the choices that ``events`` (just applied by ingest) answer; how many moved a posterior."""
        registry = self.registry
        if not registry.pending:
            return 0
        return sum(registry.observe_event(e) for e in events)
