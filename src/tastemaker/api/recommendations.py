"""``GET /v1/recommendations`` and ``GET /v1/items/{id}/similar``: the hot read path.

Both refuse unknown query parameters (400 naming each, with the closest known name) and
accept ``fields=title,price,properties.NAME``: each item then carries ``"item": {fields}``
read from the catalogue (:mod:`tastemaker.serving.fields`).
"""

from __future__ import annotations

from typing import Any, Mapping

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.responses import JSONResponse, problem
from tastemaker.engine import Engine
from tastemaker.schema.errors import FieldError
from tastemaker.serving.fields import attach_fields, parse_fields
from tastemaker.serving.request import MAX_N, SIMILAR_PARAMETERS, parse_request, unknown_parameters


def recommend(engine: Engine, params: Mapping[str, str]) -> dict[str, Any]:
    """The response body for these query parameters (``ValidationFailed`` on bad ones).

    Shared with :mod:`tastemaker.api.hot_path`, which answers the same request ahead of the router.
    """
    request = parse_request(params)
    engine.catch_up()
    body = engine.recommender.recommend(request)
    if request.fields:
        attach_fields(body["items"], request.fields, engine.stores.items.get)
    return body


async def get_recommendations(request: Request) -> Response:
    return JSONResponse(recommend(request.app.state.engine, request.query_params))


async def get_similar(request: Request) -> Response:
    engine = request.app.state.engine
    params = request.query_params
    errors = unknown_parameters(params, SIMILAR_PARAMETERS)
    raw_n = params.get("n", "10")
    if not raw_n.isdigit() or not 1 <= int(raw_n) <= MAX_N:
        errors.append(FieldError("n", f"must be an integer between 1 and {MAX_N}"))
    fields = parse_fields(params.get("fields"), errors)
    if errors:
        return problem(400, "Invalid request", errors=errors)
    engine.catch_up()
    item_id = request.path_params["id"]
    if engine.state.index.get(item_id) is None and engine.stores.items.get(item_id) is None:
        return problem(404, "Unknown item", errors=[FieldError("id", f"no item '{item_id}'")])
    items = attach_fields(engine.recommender.similar(item_id, int(raw_n)), fields, engine.stores.items.get)
    return JSONResponse({"item_id": item_id, "items": items})
