"""A recommendation request, parsed from query parameters with field-named errors."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.fields import parse_fields

MAX_N = 500
MAX_EXCLUDE = 1000  # ids in ``exclude``: a request cannot make the filter arbitrarily long
DEFAULT_PLACEMENT = "home"  # what a request without ``placement`` is served
OVERRIDE_PREFIX = "override."  # ``override.KEY=VALUE``: a per-request change the placement allows
# timezone (IANA) and region (a subdivision code for holidays) feed the derived fields of features.context
CONTEXT_FIELDS = ("channel", "device", "locale", "geo", "referrer", "user_agent", "timezone", "region")
# every parameter ``GET /v1/recommendations`` reads (besides ``override.KEY``); anything else
# is refused, so a typo (``userid``) is named instead of silently ignored
PARAMETERS: tuple[str, ...] = ("user_id", "placement", "n", "exclude", "category", "brand", "item_id", "explain",
                               "include_purchased", "fields", *CONTEXT_FIELDS)
SIMILAR_PARAMETERS: tuple[str, ...] = ("n", "fields")  # ``GET /v1/items/{id}/similar``
_PARAMETER_SET = frozenset(PARAMETERS)


def unknown_parameters(params: Iterable[str], known: tuple[str, ...],
                       prefixes: tuple[str, ...] = ()) -> list[FieldError]:
    """One error per parameter that is neither in ``known`` nor starts with one of
    ``prefixes``: the closest known name when one is close, and every known name.

    >>> [e.reason for e in unknown_parameters(["userid", "n"], ("user_id", "n"))]
    ["unknown parameter: did you mean 'user_id'? Known parameters: user_id, n"]
    """
    strange = [name for name in params if name not in known and not name.startswith(prefixes)]
    if not strange:  # the usual request, overrides included: no list text built
        return []
    listed = ", ".join([*known, *(f"{p}KEY" for p in prefixes)])
    errors = []
    for name in strange:
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        errors.append(FieldError(name, f"unknown parameter: {hint}Known parameters: {listed}"))
    return errors


@dataclass
class RecommendationRequest:
    user_id: str
    placement: str = DEFAULT_PLACEMENT
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
    # ``fields=title,price``: catalogue fields added to each item (``serving.fields``)
    fields: tuple[str, ...] = ()


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
    # the usual request has no unknown name: one set check, no per-name loop
    errors = [] if _PARAMETER_SET.issuperset(params) else unknown_parameters(params, PARAMETERS, (OVERRIDE_PREFIX,))
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
    fields = parse_fields(params.get("fields"), errors)
    exclude = frozenset(x for x in params["exclude"].split(",") if x) if "exclude" in params else frozenset()
    if len(exclude) > MAX_EXCLUDE:
        errors.append(FieldError("exclude", f"at most {MAX_EXCLUDE} item ids, got {len(exclude)}"))
    if errors:
        raise ValidationFailed(errors, title="Invalid recommendation request", status=400)
    context = {k: params[k] for k in CONTEXT_FIELDS if params.get(k)}
    return RecommendationRequest(
        user_id=user_id,
        placement=params.get("placement") or DEFAULT_PLACEMENT,
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
        fields=fields,
    )
