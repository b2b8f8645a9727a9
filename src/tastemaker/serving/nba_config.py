"""A placement's ``next_best_action:`` section: the placement chooses an action, not a list.

Format (inside a placement of the placement document)::

    next_best_action:
      actions:
        - name: winback-10            # unique in the placement
          kind: offer                 # recommend | offer | message | nothing
          when: "user.lifecycle in ['at_risk', 'churned']"      # eligibility (optional)
          p: "0.02 + 0.25 * user.churn_probability"            # P(the action works), 0..1
          value: "max(user.clv, 20)"                           # what it is worth when it works
          cost: 2.0                   # paid whether it works or not (a discount's expected cost)
          margin: 0.25                # offers: the margin the order keeps after the discount
          payload: {code: WINBACK10}  # returned as is
        - {name: browse, kind: recommend, p: "0.05", value: "user.revenue / max(user.orders, 1)"}
        - {name: newsletter, kind: message, p: "0.01", value: "30", cost: 0.05}
      constraints:
        max_offers_per_day: 1         # per user, over the last 24 h (the impression log)
        max_messages_per_day: 2
        margin_floor: 0.15            # an offer keeping less margin is never chosen

``p`` and ``value`` are number expressions over the user (:mod:`tastemaker.rules.user_expressions`:
segments, lifecycle, RFM, churn probability, CLV, features, traits, context); a missing value
makes the action's expected value 0. The expected value is ``p * value - cost``; ``nothing``
is always available at 0. Broken expressions refuse the document, naming their position.

>>> from tastemaker.serving.placement_config import load_placements
>>> p = load_placements("placements:\\n  retention:\\n    sources: {popular: 1}\\n    next_best_action:\\n"
...                     "      actions: [{name: offer, kind: offer, p: '0.1', value: '50', cost: 1, margin: 0.3}]\\n"
...                     "      constraints: {max_offers_per_day: 1}\\n")
>>> spec = p["retention"].next_best_action
>>> [a.name for a in spec.actions], spec.max_offers_per_day
(['offer', 'nothing'], 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tastemaker.rules.user_expressions import ExpressionError, UserExpression, compile_user_expression
from tastemaker.serving.config_document import ConfigChecker

KINDS = ("recommend", "offer", "message", "nothing")
ACTION_FIELDS = ("name", "kind", "when", "p", "value", "cost", "margin", "payload")
CONSTRAINT_FIELDS = ("max_offers_per_day", "max_messages_per_day", "margin_floor")
MAX_ACTIONS = 50


@dataclass(frozen=True)
class Action:
    name: str
    kind: str
    p: UserExpression | None  # None: 0 (the "nothing" action)
    value: UserExpression | None
    cost: float = 0.0
    when: UserExpression | None = None
    margin: float | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NbaSpec:
    actions: tuple[Action, ...]
    max_offers_per_day: int | None = None
    max_messages_per_day: int | None = None
    margin_floor: float | None = None


NOTHING = Action("nothing", "nothing", None, None)


def _expr(c: ConfigChecker, value: Any, path: str, kind: str) -> UserExpression | None:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        c.fail(path, f"must be a {kind} expression over the user (a string)")
        return None
    try:
        return compile_user_expression(str(value), kind)
    except ExpressionError as exc:
        c.fail(path, f"{exc}: {exc.pointer()}")
        return None


def _action(c: ConfigChecker, doc: Any, path: str) -> Action | None:
    d = c.mapping(doc, path, ACTION_FIELDS)
    if d is None:
        return None
    errors = len(c.errors)
    name, kind = d.get("name"), d.get("kind")
    if not isinstance(name, str) or not name:
        c.fail(f"{path}/name", "required: a name")
    if kind not in KINDS:
        c.fail(f"{path}/kind", f"must be one of: {', '.join(KINDS)}")
    if kind == "nothing":
        return Action(str(name), "nothing", None, None) if len(c.errors) == errors else None
    for required in ("p", "value"):
        if required not in d:
            c.fail(f"{path}/{required}", "required: a number expression over the user")
    p = _expr(c, d["p"], f"{path}/p", "number") if "p" in d else None
    value = _expr(c, d["value"], f"{path}/value", "number") if "value" in d else None
    when = _expr(c, d["when"], f"{path}/when", "condition") if "when" in d else None
    cost = c.number(d.get("cost", 0.0), f"{path}/cost", 0.0, 1e12)
    margin = c.number(d["margin"], f"{path}/margin", -1.0, 1.0) if "margin" in d else None
    if margin is not None and kind != "offer":
        c.fail(f"{path}/margin", "only offers have a margin")
    payload = d.get("payload", {})
    if not isinstance(payload, dict):
        c.fail(f"{path}/payload", "must be a mapping")
    if len(c.errors) > errors:
        return None
    return Action(name, kind, p, value, float(cost), when, None if margin is None else float(margin), dict(payload))


def nba_from_config(c: ConfigChecker, doc: Any, path: str) -> NbaSpec | None:
    """The section's spec, or None with the errors recorded in ``c``."""
    d = c.mapping(doc, path, ("actions", "constraints"))
    if d is None:
        return None
    errors = len(c.errors)
    raw = d.get("actions")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_ACTIONS:
        c.fail(f"{path}/actions", f"must be a list of 1 to {MAX_ACTIONS} actions")
        raw = []
    actions = [_action(c, a, f"{path}/actions/{i}") for i, a in enumerate(raw)]
    names = [a.name for a in actions if a is not None]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        c.fail(f"{path}/actions", f"two actions are named '{dup}'")
    limits: dict[str, Any] = {}
    cons = c.mapping(d.get("constraints", {}), f"{path}/constraints", CONSTRAINT_FIELDS) or {}
    for key in ("max_offers_per_day", "max_messages_per_day"):
        if key in cons:
            v = c.number(cons[key], f"{path}/constraints/{key}", 0, 10_000)
            limits[key] = None if v is None else int(v)
    if "margin_floor" in cons:
        limits["margin_floor"] = c.number(cons["margin_floor"], f"{path}/constraints/margin_floor", -1.0, 1.0)
    if len(c.errors) > errors:
        return None
    kept = tuple(a for a in actions if a is not None)
    if not any(a.kind == "nothing" for a in kept):
        kept = (*kept, NOTHING)  # doing nothing is always an option
    return NbaSpec(kept, **limits)
