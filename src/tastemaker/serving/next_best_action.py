"""Next best action: a placement with a ``next_best_action:`` section answers with one action.

For each action of the placement (:mod:`tastemaker.serving.nba_config`) the expected value is
``p * value - cost``, with ``p`` and ``value`` evaluated over the requesting user through the
segment book's lookup (segments, lifecycle, RFM, churn probability, CLV, features, traits,
context). An action is *blocked* when its ``when`` condition is false, when it is an offer
keeping less margin than ``margin_floor``, or when the user already got
``max_offers_per_day`` offers (``max_messages_per_day`` messages) from this placement in the
last 24 hours. The best unblocked action wins (ties: the first listed); ``nothing`` is always
there at 0, so a costly action is only taken when it pays.

The response is a recommendation response with ``action`` ({name, kind, expected_value,
payload}); ``items`` holds the placement's list when the action is ``recommend`` and is empty
otherwise; with ``explain=true``, ``actions`` lists every action's expected value and what
blocked it. Offers and messages are written to the impression log at once (items
``["action:NAME"]``), which is where the daily caps are counted, so every worker sees them.

>>> from tastemaker.serving.nba_config import Action, NbaSpec, NOTHING
>>> from tastemaker.rules.user_expressions import compile_user_expression as e
>>> spec = NbaSpec((Action("offer", "offer", e("0.2", "number"), e("user.clv", "number"), cost=5.0, margin=0.3),
...                 NOTHING), max_offers_per_day=1)
>>> [(c["name"], c["expected_value"], c["blocked_by"]) for c in evaluate(spec, {"user.clv": 100.0}.get, {})]
[('offer', 15.0, None), ('nothing', 0.0, None)]
>>> [c["blocked_by"] for c in evaluate(spec, {"user.clv": 100.0}.get, {"offer": 1})]
['max_offers_per_day', None]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tastemaker.serving.nba_config import Action, NbaSpec
from tastemaker.storage.protocols import ImpressionLog, ImpressionRecord

DAY_S = 86_400.0
ACTION_PREFIX = "action:"


def _number(expr: Any, lookup: Callable[[str], Any]) -> float | None:
    return None if expr is None else expr(lookup)


def expected_value(action: Action, lookup: Callable[[str], Any]) -> float:
    """``p * value - cost`` (p clipped to [0, 1]); 0 for ``nothing``; a missing p or value counts 0."""
    if action.kind == "nothing":
        return 0.0
    p, value = _number(action.p, lookup), _number(action.value, lookup)
    gain = 0.0 if p is None or value is None else min(max(p, 0.0), 1.0) * value
    return round(gain - action.cost, 6)


def evaluate(spec: NbaSpec, lookup: Callable[[str], Any], sent_today: Mapping[str, int]) -> list[dict[str, Any]]:
    """Every action with its expected value and what blocks it (None: allowed).
    ``sent_today``: kind -> how many the user got from this placement in the last 24 h."""
    out = []
    for action in spec.actions:
        blocked = None
        if action.when is not None and not action.when(lookup):
            blocked = "when"
        elif action.kind == "offer" and spec.margin_floor is not None and (action.margin or 0.0) < spec.margin_floor:
            blocked = "margin_floor"
        elif action.kind == "offer" and spec.max_offers_per_day is not None \
                and sent_today.get("offer", 0) >= spec.max_offers_per_day:
            blocked = "max_offers_per_day"
        elif action.kind == "message" and spec.max_messages_per_day is not None \
                and sent_today.get("message", 0) >= spec.max_messages_per_day:
            blocked = "max_messages_per_day"
        out.append({"name": action.name, "kind": action.kind, "expected_value": expected_value(action, lookup),
                    "blocked_by": blocked})
    return out


def choose(spec: NbaSpec, candidates: list[dict[str, Any]]) -> Action:
    """The allowed action of highest expected value (the first on ties)."""
    best, best_ev = None, float("-inf")
    for action, c in zip(spec.actions, candidates):
        if c["blocked_by"] is None and c["expected_value"] > best_ev:
            best, best_ev = action, c["expected_value"]
    assert best is not None  # "nothing" is never blocked
    return best


class NbaServing:
    """Decides, logs and shapes the response of next-best-action placements."""

    def __init__(self, impressions: ImpressionLog | None, clock: Callable[[], float] = time.time):
        self.impressions = impressions
        self.clock = clock

    def sent_today(self, user_id: str, placement: str, spec: NbaSpec, now: float) -> dict[str, int]:
        """Offers and messages this placement gave ``user_id`` in the last 24 h, by kind."""
        if self.impressions is None or (spec.max_offers_per_day is None and spec.max_messages_per_day is None):
            return {}
        kinds = {a.name: a.kind for a in spec.actions}
        counts: dict[str, int] = {}
        after: tuple[float, str] | None = (now - DAY_S, "")
        while after is not None:
            page = self.impressions.read_user(user_id, after=after, limit=1000)
            for r in page:
                if r.placement == placement and r.items and r.items[0].startswith(ACTION_PREFIX):
                    kind = kinds.get(r.items[0][len(ACTION_PREFIX):])
                    if kind is not None:
                        counts[kind] = counts.get(kind, 0) + 1
            after = (page[-1].ts, page[-1].recommendation_id) if len(page) == 1000 else None
        return counts

    def respond(self, spec: NbaSpec, placement: str, user_id: str, lookup: Callable[[str], Any],
                recommend: Callable[[], dict[str, Any]], new_id: Callable[[], str], explain: bool,
                log: bool) -> dict[str, Any]:
        """The response body: the chosen action, and the list when it is ``recommend``."""
        now = self.clock()
        candidates = evaluate(spec, lookup, self.sent_today(user_id, placement, spec, now))
        action = choose(spec, candidates)
        ev = next(c["expected_value"] for c in candidates if c["name"] == action.name)
        if action.kind == "recommend":
            body = recommend()
        else:
            body = {"recommendation_id": new_id(), "placement": placement, "items": [], "model_version": "nba"}
            if log and action.kind in ("offer", "message") and self.impressions is not None:
                # written now, not batched: the next request must count it against the daily caps
                self.impressions.append([ImpressionRecord(body["recommendation_id"], placement, user_id, now,
                                                          [ACTION_PREFIX + action.name])])
        body["action"] = {"name": action.name, "kind": action.kind, "expected_value": ev, "payload": action.payload}
        if explain:
            body["actions"] = candidates
        return body
