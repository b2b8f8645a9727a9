"""The segment book: every segment a user is in right now, and the values segments read.

A user's segments are, in order: the lifecycle stage and behaviour segments
(:mod:`tastemaker.features.segments`), ``at_risk_predicted`` (churn probability at least
``customer_models.AT_RISK_THRESHOLD``), then every rule segment defined through
``/v1/segments`` whose expression (:mod:`tastemaker.rules.user_expressions`) holds. Nothing
is cached per user: membership is computed from the online state when asked, so the event
that changes it is seen by the very next request. Definitions are reloaded when the segment
store's change token moves (a memory read on the embedded deployment), so a segment written
by any worker applies from the next request on every other.

Rule segments may read ``user.segments`` (built-in and predictive ones only: a rule segment
never depends on another, so there is no cycle to detect).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from tastemaker.features.segments import BEHAVIOUR_SEGMENTS, LIFECYCLE_STAGES, builtin_segments, lifecycle_stage
from tastemaker.features.rfm import RfmScores
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.rules.user_expressions import ExpressionError, UserExpression, compile_user_expression
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.customer_models import AT_RISK_THRESHOLD, CustomerModels
from tastemaker.storage.protocols import ArtifactStore, SegmentRecord, SegmentStore, UserStore

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PREDICTED = ("at_risk_predicted",)
BUILTIN = (*LIFECYCLE_STAGES, *BEHAVIOUR_SEGMENTS, *PREDICTED)
MAX_DESCRIPTION = 1000


@dataclass(frozen=True)
class RuleSegment:
    name: str
    expression: UserExpression
    description: str


def check_definition(name: str, doc: Any) -> tuple[dict[str, Any], UserExpression]:
    """A valid definition and its compiled expression, or :class:`ValidationFailed` (422)
    naming each field; an expression's error names its 0-based position."""
    errors: list[FieldError] = []
    if not NAME.fullmatch(name):
        errors.append(FieldError("name", "a segment name is 1-64 of a-z, 0-9, '-', '_', starting with a letter or digit"))
    elif name in BUILTIN:
        errors.append(FieldError("name", f"'{name}' is a built-in segment (built-in: {', '.join(BUILTIN)})"))
    if not isinstance(doc, dict):
        raise ValidationFailed([*errors, FieldError("", "must be an object")], title="Invalid segment")
    unknown = sorted(set(doc) - {"name", "expression", "description"})
    errors += [FieldError(k, "unknown field (known: name, expression, description)") for k in unknown]
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", f"must be a string of at most {MAX_DESCRIPTION} characters"))
    expression = doc.get("expression")
    compiled = None
    if not isinstance(expression, str):
        errors.append(FieldError("expression", "required: a condition over user.*, events.*, rfm.*, features.*, "
                                               "traits.*, context.* (e.g. \"user.orders >= 2\")"))
    else:
        try:
            compiled = compile_user_expression(expression)
        except ExpressionError as exc:
            errors.append(FieldError("expression", f"{exc}: {exc.pointer()}"))
    if errors or compiled is None:
        raise ValidationFailed(errors, title="Invalid segment")
    return {"expression": expression, "description": description}, compiled


class SegmentBook:
    """Segments of users of ``state``; rule segments from ``store`` (None: built-ins only)."""

    def __init__(self, state: Callable[[], OnlineState], store: SegmentStore | None, users: UserStore | None,
                 artifacts: ArtifactStore | None = None):
        self.state = state
        self.store = store
        self.users = users
        self.artifacts = artifacts  # where the train job publishes the churn/CLV parameters
        self.rules: tuple[RuleSegment, ...] = ()
        self._token: bytes | None = None
        self._rfm: tuple[Any, RfmScores] | None = None
        self._models: tuple[Any, CustomerModels] | None = None

    def refresh(self) -> None:
        """Reload the definitions when the store's change token moved."""
        if self.store is None:
            return
        token = self.store.change_token()
        if token == self._token:
            return
        records = self.store.list()
        self.rules = tuple(self._compile(r) for r in records)
        self._token = token

    @staticmethod
    def _compile(record: SegmentRecord) -> RuleSegment:
        return RuleSegment(record.name, compile_user_expression(record.definition["expression"]),
                           record.definition.get("description", ""))

    def rfm(self) -> RfmScores:
        state = self.state()
        if self._rfm is None or self._rfm[0] is not state.customers:  # a new state (retention rebuild)
            self._rfm = (state.customers, RfmScores(state.customers))
        return self._rfm[1]

    def models(self) -> CustomerModels:
        state = self.state()
        if self._models is None or self._models[0] is not state.customers:
            self._models = (state.customers, CustomerModels(lambda: state.customers, lambda: state.clock,
                                                            artifacts=self.artifacts))
        return self._models[1]

    def lookup(self, user_id: str, user: UserState | None, context: Mapping[str, Any] | None) -> Callable[[str], Any]:
        """name -> value for one user (computed on first read, then cached for this call)."""
        state = self.state()
        now = state.clock
        customer = state.customers.get(user_id)
        cache: dict[str, Any] = {}
        groups: dict[str, Any] = {}

        def group(kind: str) -> Any:
            if kind not in groups:
                if kind == "predicted":
                    groups[kind] = self.models().predict(customer)
                elif kind == "rfm":
                    groups[kind] = self.rfm().score(user_id, now) or {}
                elif kind == "features":
                    store = getattr(state, "features", None)
                    groups[kind] = (store.features_for("user", user_id, now) if store is not None else None) or {}
                elif kind == "traits":
                    stored = self.users.get(user_id) if self.users is not None else None
                    groups[kind] = stored.traits if stored is not None and stored.traits else {}
            return groups[kind]

        def user_value(key: str) -> Any:
            if key in ("churn_probability", "clv"):
                return group("predicted")[key]
            if key == "lifecycle":
                return lifecycle_stage(customer, now)
            if key == "segments":
                return frozenset(self.builtin(user, customer, now, group("predicted")))
            if key in ("event_count", "n_purchased", "n_seen"):
                return None if user is None else getattr(user, key)
            if customer is None:
                return None
            return {"first_seen": customer.first_ts, "last_seen": customer.last_ts, "recency": now - customer.last_ts,
                    "tenure": now - customer.first_ts, "active_days": customer.active_days,
                    "orders": customer.orders, "revenue": customer.revenue}[key]

        def get(name: str) -> Any:
            if name in cache:
                return cache[name]
            space, _, key = name.partition(".")
            if space == "user":
                value = user_value(key)
            elif space == "events":
                value = None if user is None else user.type_count(key)
            elif space == "context":
                value = context.get(key) if context is not None else None
            else:
                value = group(space).get(key)
            cache[name] = value
            return value
        return get

    @staticmethod
    def builtin(user: UserState | None, customer: Any, now: float, predicted: Mapping[str, Any]) -> list[str]:
        out = builtin_segments(user, customer, now)
        churn = predicted.get("churn_probability")
        if churn is not None and churn >= AT_RISK_THRESHOLD:
            out.append("at_risk_predicted")
        return out

    def membership(self, user_id: str, user: UserState | None = None,
                   context: Mapping[str, Any] | None = None) -> list[str]:
        """Every segment ``user_id`` is in now: built-in, predictive, then rule segments by name."""
        self.refresh()
        state = self.state()
        if user is None:
            user = state.users.get(user_id)
        get = self.lookup(user_id, user, context)
        out = self.builtin(user, state.customers.get(user_id), state.clock,
                           {"churn_probability": get("user.churn_probability")})
        out += [r.name for r in self.rules if r.expression(get)]
        return out

    def profile(self, user_id: str, user: UserState | None) -> dict[str, Any]:
        """What ``GET /v1/users/{id}`` shows: segments, lifecycle, RFM, churn probability, CLV."""
        state = self.state()
        get = self.lookup(user_id, user, None)
        return {"segments": self.membership(user_id, user), "lifecycle": get("user.lifecycle"),
                "rfm": self.rfm().score(user_id, state.clock), "churn_probability": get("user.churn_probability"),
                "clv": get("user.clv")}
