"""Filter and penalty stages: what a user must not (or should less) be shown."""

from __future__ import annotations

import numpy as np

from tastemaker.kernels import history_codes, screen_history
from tastemaker.candidates import Candidates
from tastemaker.serving.placements import Placement
from tastemaker.serving.sources import PipelineContext


class _Scratch:
    """A reusable all-False bitmap over item indices: mark members, read candidates, unmark.

    Costs O(members + candidates), not O(catalog), and beats both ``np.isin`` and a Python
    set lookup per candidate. Requests run one at a time on the event loop, so one buffer
    per process is safe.
    """

    buffer = np.zeros(0, dtype=bool)
    codes = np.zeros(0, dtype=np.uint8)


def _member_mask(items: np.ndarray, *member_sets: set[int] | frozenset[int]) -> np.ndarray:
    """``items[i] in any of member_sets`` for each i (no set union is built)."""
    count = sum(len(m) for m in member_sets)
    if not count or not len(items):
        return np.zeros(len(items), dtype=bool)
    marks = np.fromiter((i for m in member_sets for i in m), np.int64, count)
    size = max(int(items.max()), int(marks.max())) + 1
    if len(_Scratch.buffer) < size:
        _Scratch.buffer = np.zeros(max(size, 2 * len(_Scratch.buffer)), dtype=bool)
    buffer = _Scratch.buffer
    buffer[marks] = True
    out = buffer[items]
    buffer[marks] = False
    return out


_SEEN, _EXCLUDED = 1, 2
_NONE = np.zeros(0, np.int64)


def _history_sets(ctx: PipelineContext, placement: Placement) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(excluded, seen, marks)``: the user's items the placement excludes, the items it only
    penalises, and the scratch buffer the kernels mark them in. None when the user has
    nothing that could mark a candidate."""
    user, request = ctx.user, ctx.request
    if user is None:
        return None
    excluding = [] if (request.include_purchased or placement.include_purchased) else [user.excluded_items()]
    if placement.exclude_seen:
        excluding.append(user.seen_items())
    seen = user.seen_items() if not placement.exclude_seen and placement.seen_penalty < 1.0 else _NONE
    excluded = _NONE if not excluding else excluding[0] if len(excluding) == 1 else np.concatenate(excluding)
    if not len(excluded) and not len(seen):
        return None
    size = len(ctx.state.index)  # marks are index positions
    if len(_Scratch.codes) < size:
        _Scratch.codes = np.zeros(max(size, 2 * len(_Scratch.codes)), dtype=np.uint8)
    return excluded, seen, _Scratch.codes


def _history_codes(ctx: PipelineContext, placement: Placement, items: np.ndarray) -> np.ndarray | None:
    """Per candidate: 2 if the user's history excludes it, 1 if the user only saw it, else 0.

    One pass over the user's sets serves both the exclusion filter and the seen penalty.
    None when the user has nothing that could mark a candidate.
    """
    history = _history_sets(ctx, placement) if len(items) else None
    return None if history is None else history_codes(np.asarray(items, np.int64), *history)


def _catalog_and_request_mask(ctx: PipelineContext, placement: Placement, items: np.ndarray, require_catalog: bool) -> np.ndarray:
    state, request = ctx.state, ctx.request
    catalog = state.catalog
    if len(items) and int(items.max()) < len(catalog.available):
        inside = None  # the usual case: every candidate is in the catalog arrays
        mask = catalog.available[items]
    else:
        inside = items < len(catalog.available)
        mask = np.zeros(len(items), dtype=bool)
        mask[inside] = catalog.available[items[inside]]
    if not require_catalog or not catalog.known.any():
        if inside is None:
            inside = np.ones(len(items), dtype=bool)
        # Without a catalog, anything seen in events may be recommended.
        mask |= ~inside
        mask[inside] |= ~catalog.known[items[inside]]
    drop = set(request.exclude)
    if request.item_id:
        drop.add(request.item_id)
    if drop:
        positions = {p for p in (state.index.get(i) for i in drop) if p is not None}
        mask &= ~_member_mask(items, positions)
    if request.category is not None:
        mask &= _member_mask(items, catalog.category_members.get(request.category, set()))
    if request.brand is not None:
        mask &= _member_mask(items, catalog.brand_members.get(request.brand, set()))
    return mask


def allowed(ctx: PipelineContext, placement: Placement, items: np.ndarray, require_catalog: bool) -> np.ndarray:
    """Mask of candidates that pass every filter of the request and placement."""
    mask = _catalog_and_request_mask(ctx, placement, items, require_catalog)
    codes = _history_codes(ctx, placement, items)
    return mask if codes is None else mask & (codes != _EXCLUDED)


def penalise_seen(ctx: PipelineContext, placement: Placement, candidates: Candidates) -> Candidates:
    """Scale down the scores of items the user already interacted with (``seen_penalty``)."""
    codes = _history_codes(ctx, placement, candidates.items)
    if codes is not None:
        candidates.scores = np.where(codes == _SEEN, candidates.scores * placement.seen_penalty, candidates.scores)
    return candidates


def screen(ctx: PipelineContext, placement: Placement, candidates: Candidates, require_catalog: bool) -> Candidates:
    """:func:`allowed` then :func:`penalise_seen`, reading the user's history once."""
    mask = _catalog_and_request_mask(ctx, placement, candidates.items, require_catalog)
    history = _history_sets(ctx, placement) if len(candidates) else None
    if history is None:
        return candidates.keep(mask)
    excluded, seen, marks = history
    keep, scores = screen_history(candidates.items, candidates.scores, mask, excluded, seen,
                                  float(placement.seen_penalty), marks)
    return Candidates(candidates.items[keep], scores, candidates.sources[keep], candidates.because)
