"""Pins of a configured placement: a pin adds its item to the candidates, so the item must
pass what the sources' candidates passed (the request, the catalogue, the user's history).
Filters win over pins."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tastemaker.rules.engine import RuleSet, RuleTrace
from tastemaker.serving.filters import _catalog_and_request_mask as catalog_and_request_mask
from tastemaker.serving.placements import Placement
from tastemaker.serving.sources import PipelineContext


def screen_pins(ctx: PipelineContext, placement: Placement, rules: RuleSet, items: np.ndarray, now: float,
                trace: RuleTrace | None, require_catalog: bool) -> RuleSet:
    """``rules`` without the pins whose item the request or the user's history excludes (out
    of stock, purchased, ``exclude``, another category...); ``items`` are the candidates
    (a pin of one of them adds nothing), ``now`` the time the pins' schedules are read at."""
    index = ctx.state.index
    keep = []
    for pin in rules.pins:
        pos = index.get(pin.item_id)
        if pos is None or (items == pos).any() or not pin.schedule.active(now) \
                or pin_allowed(ctx, placement, pos, require_catalog):
            keep.append(pin)
        elif trace is not None:
            trace.drop(pos, pin.name, "pin dropped: excluded by the request, the catalog or the user's history")
    return rules if len(keep) == len(rules.pins) else replace(rules, pins=tuple(keep))


def pin_allowed(ctx: PipelineContext, placement: Placement, pos: int, require_catalog: bool) -> bool:
    """:func:`~tastemaker.serving.filters.allowed` for one item, with set lookups in the
    user's history instead of a pass over all of it."""
    if not catalog_and_request_mask(ctx, placement, np.array([pos], np.int64), require_catalog)[0]:
        return False
    user = ctx.user
    if user is None:
        return True
    if not (ctx.request.include_purchased or placement.include_purchased) and user.has_excluded(pos):
        return False
    return not (placement.exclude_seen and user.has_seen(pos))
