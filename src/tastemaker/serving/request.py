"""A recommendation request, parsed from query parameters with field-named errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from tastemaker.schema.errors import FieldError, ValidationFailed

MAX_N = 500
OVERRIDE_PREFIX = "override."  # ``override.KEY=VALUE``: a per-request change the placement allows
CONTEXT_FIELDS = ("channel", "device", "locale", "geo", "referrer", "user_agent")


@dataclass
class RecommendationRequest:
    user_id: str
    placement: str = "home"
    n: int = 10
    exclude: frozenset[str] = frozenset()
    category: str | None = None
    brand: str | None = None
    item_id: str | None = None  # the item on screen (product page, cart): seeds co-visitation
    explain: bool = False
    include_purchased: bool = False
    context: dict[str, Any] = field(default_factory=dict)
    # ``override.KEY=VALUE`` parameters (``{"diversity": "0.4"}``); the placement says which
    # keys it allows (``serving.placements.apply_overrides``).
    overrides: dict[str, str] = field(default_factory=dict)
    # True when the client sent no ``n``: the placement's own ``n`` applies.
    default_n: bool = field(default=False, compare=False)


def _bool(params: Mapping[str, str], name: str, errors: list[FieldError]) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no", ""):
        return False
    errors.append(FieldError(name, "must be true or false"))
    return False


def parse_request(params: Mapping[str, str]) -> RecommendationRequest:
    """Parse ``GET /v1/recommendations`` parameters.

    >>> parse_request({"user_id": "u1", "n": "5", "exclude": "a,b"}).exclude == {"a", "b"}
    True
    >>> parse_request({"user_id": "u1", "override.diversity": "0.4"}).overrides
    {'diversity': '0.4'}
    """
    errors: list[FieldError] = []
    user_id = params.get("user_id", "")
    if not user_id or len(user_id) > 256:
        errors.append(FieldError("user_id", "is required (1 to 256 characters)"))
    n = 10
    if "n" in params:
        try:
            n = int(params["n"])
        except ValueError:
            errors.append(FieldError("n", "must be an integer"))
        else:
            if not 1 <= n <= MAX_N:
                errors.append(FieldError("n", f"must be between 1 and {MAX_N}"))
    explain = _bool(params, "explain", errors)
    include_purchased = _bool(params, "include_purchased", errors)
    overrides: dict[str, str] = {}
    for key in params:
        if key.startswith(OVERRIDE_PREFIX):
            name = key[len(OVERRIDE_PREFIX):]
            if not name:
                errors.append(FieldError(key, "names no setting (override.KEY=VALUE)"))
            else:
                overrides[name] = params[key]
    if errors:
        raise ValidationFailed(errors, title="Invalid recommendation request", status=400)
    exclude = frozenset(x for x in params.get("exclude", "").split(",") if x)
    context = {k: params[k] for k in CONTEXT_FIELDS if params.get(k)}
    return RecommendationRequest(
        user_id=user_id,
        placement=params.get("placement") or "home",
        n=n,
        exclude=exclude,
        category=params.get("category") or None,
        brand=params.get("brand") or None,
        item_id=params.get("item_id") or None,
        explain=explain,
        include_purchased=include_purchased,
        context=context,
        overrides=overrides,
        default_n="n" not in params,
    )
