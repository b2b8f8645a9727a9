"""``/v1/placements``: list, read, configure and remove placements (admin to change).

``PUT /v1/placements/{name}`` takes one placement as JSON, in the format of the placement
file (:mod:`tastemaker.serving.placement_config`); an invalid body is refused whole with a
422 problem naming each offending field as a JSON pointer into the body. A change is
written to the placement file, so every worker serves it within a second; ``DELETE``
removes a configured placement (a built-in one returns to its default).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, Placement

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def describe(placement: Placement) -> dict[str, Any]:
    """A placement as JSON: its effective settings, and the document it was configured from."""
    rules = placement.rules
    return {
        "name": placement.name,
        "description": placement.description,
        "n": placement.n,
        "sources": {k: {"weight": v.weight, "n": v.n} for k, v in placement.sources.items()},
        "ranker": placement.ranker,
        "diversity": None if placement.diversity is None else {
            "lambda": placement.diversity.lambda_, "by": placement.diversity.by,
            "calibration": placement.diversity.calibration, "method": placement.diversity.method},
        "fairness": None if placement.fairness is None else {
            "popularity_penalty": placement.fairness.popularity_penalty,
            "min_exposure": {k: dict(v) for k, v in placement.fairness.min_exposure.items()}},
        "rules": {"filters": [f.name for f in rules.filters], "boosts": [b.name for b in rules.boosts],
                  "pins": [{"item_id": p.item_id, "position": p.position} for p in rules.pins], "caps": [c.name for c in rules.caps],
                  "margin": rules.margin.weight if rules.margin else None},
        "overrides": sorted(placement.overrides),
        "seen_penalty": placement.seen_penalty,
        "include_purchased": placement.include_purchased,
        "exclude_seen": placement.exclude_seen,
        "log_impressions": placement.log_impressions,
        "origin": "configured" if placement.config is not None else "built-in",
        "config": placement.config,
    }


def _name(request: Request) -> str:
    name = request.path_params["name"]
    if not NAME.fullmatch(name):
        raise ValidationFailed([FieldError("name", "a placement name is 1-64 of a-z, 0-9, '-', '_'")],
                               title="Invalid placement name", status=400)
    return name


async def list_placements(request: Request) -> Response:
    registry = request.app.state.engine.recommender.placements
    registry.reload_if_changed()
    return JSONResponse({"placements": [describe(registry.get(n)) for n in registry.names()]})


async def get_placement(request: Request) -> Response:
    registry = request.app.state.engine.recommender.placements
    registry.reload_if_changed()
    name = request.path_params["name"]
    placement = registry.get(name)
    if placement is None:
        return problem(404, "Unknown placement", errors=[FieldError("name", f"no placement '{name}'")])
    return JSONResponse(describe(placement))


async def put_placement(request: Request) -> Response:
    registry = request.app.state.engine.recommender.placements
    name = _name(request)
    body = await read_body(request, body_limit(request, "small"))
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        return problem(400, "Malformed JSON", errors=[FieldError("", f"malformed JSON: {exc}")])
    registry.reload_if_changed()
    existed = registry.config(name) is not None
    placement = registry.put(name, doc)  # ValidationFailed -> 422 naming the fields
    audit.record(request, "placements.put", name, {"created": not existed, "body_sha256": hashlib.sha256(body).hexdigest()})
    return JSONResponse(describe(placement), status_code=200 if existed else 201)


async def delete_placement(request: Request) -> Response:
    registry = request.app.state.engine.recommender.placements
    name = _name(request)
    registry.reload_if_changed()
    if not registry.delete(name):
        detail = (f"'{name}' is a built-in placement that is not configured" if name in DEFAULT_PLACEMENTS
                  else f"no configured placement '{name}'")
        return problem(404, "Unknown placement", errors=[FieldError("name", detail)])
    audit.record(request, "placements.delete", name)
    return Response(status_code=204)
