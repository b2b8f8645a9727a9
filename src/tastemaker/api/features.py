"""``/v1/features``: the streaming feature registry and the values of one entity now.

``GET /v1/features`` lists every definition (built-in and user-defined) and the count of
late events dropped; ``PUT /v1/features`` replaces the user-defined ones (the feature
document, :mod:`tastemaker.serving.feature_config`: JSON, or YAML as ``application/yaml``)
and refolds them from the log; ``GET /v1/features/{entity}/{id}`` gives the values of a
user, item or category at the state's clock (or ``?at=`` epoch seconds);
``GET /v1/features/top/{name}`` the entities with the highest value of a feature (the
trending list for ``item_trend_1h``).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.features.definitions import ENTITIES
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.config_document import parse_yaml
from tastemaker.serving.feature_config import features_from, to_document

MAX_TOP = 1000


def _number(request: Request, name: str, default: float | None, lo: float, hi: float) -> float | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:
        raise ValidationFailed([FieldError(name, f"must be a number between {lo:g} and {hi:g}")],
                               title="Invalid query parameter", status=400)
    return value


def listing(engine: Any) -> dict[str, Any]:
    state = engine.state
    return {"features": [d.to_dict() for d in state.features.definitions],
            "late_dropped": state.features.late_dropped, "clock": state.clock}


async def list_features(request: Request) -> Response:
    engine = request.app.state.engine
    engine.catch_up()
    return JSONResponse(listing(engine))


async def put_features(request: Request) -> Response:
    engine = request.app.state.engine
    body = await read_body(request, body_limit(request, "small"))
    if "yaml" in request.headers.get("content-type", ""):
        doc, marks = parse_yaml(body.decode("utf-8", "replace"), "features.yaml")
    else:
        try:
            doc, marks = msgspec.json.decode(body), None
        except msgspec.DecodeError as exc:
            return problem(400, "Malformed JSON", errors=[FieldError("", f"malformed JSON: {exc}")])
    custom = features_from(doc, marks, "the feature document")  # 422 naming each field; nothing written
    engine.catch_up()
    engine.set_features(custom)
    audit.record(request, "features.update", "features", to_document(custom))
    return JSONResponse(listing(engine))


async def get_entity_features(request: Request) -> Response:
    engine = request.app.state.engine
    entity, entity_id = request.path_params["entity"], request.path_params["id"]
    if entity not in ENTITIES:
        return problem(400, "Invalid entity", errors=[FieldError("entity", f"must be one of {', '.join(ENTITIES)}")])
    engine.catch_up()
    state = engine.state
    at = _number(request, "at", state.clock, 0.0, 1e11)
    values = state.features.features_for(entity, entity_id, at)
    if values is None:
        return problem(404, "Unknown entity", errors=[FieldError("id", f"no events of {entity} '{entity_id}'")])
    return JSONResponse({"entity": entity, "id": entity_id, "at": at, "features": values})


async def get_top(request: Request) -> Response:
    engine = request.app.state.engine
    name = request.path_params["name"]
    engine.catch_up()
    state = engine.state
    definition = next((d for d in state.features.definitions if d.name == name), None)
    if definition is None or definition.entity == "user":
        return problem(404, "Unknown feature", errors=[FieldError("name", f"no item or category feature '{name}'")])
    n = int(_number(request, "n", 10, 1, MAX_TOP))
    at = _number(request, "at", state.clock, 0.0, 1e11)
    top = state.features.top(name, n, at)
    return JSONResponse({"feature": name, "entity": definition.entity, "at": at,
                         "top": [{"id": i, "value": round(v, 6)} for i, v in top]})
