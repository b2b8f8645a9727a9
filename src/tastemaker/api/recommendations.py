"""``GET /v1/recommendations`` and ``GET /v1/items/{id}/similar``: the hot read path.

Both refuse unknown query parameters (400 naming each, with the closest known name) and
accept ``fields=title,price,properties.NAME``: each item then carries ``"item": {fields}``
read from the catalogue (:mod:`tastemaker.serving.fields`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.auth import recommendation_refusal
from tastemaker.api.pseudonyms import map_user_param
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError
from tastemaker.serving.fields import parse_fields
from tastemaker.serving.request import MAX_N, SIMILAR_PARAMETERS, parse_request, unknown_parameters


async def get_recommendations(request: Request) -> Response:
    # the same call as the fast path (tastemaker.api.hot_path), which answers it ahead of the router
    engine = request.app.state.engine
    params = request.query_params
    if engine.pseudonyms is not None:
        params = dict(params)
        map_user_param(engine.pseudonyms, params)
    refused = recommendation_refusal(request.scope.get("tastemaker.key"), params)
    if refused is not None:
        return refused
    return JSONResponse(engine.recommend(parse_request(params)))


async def get_similar(request: Request) -> Response:
    params = request.query_params
    errors = unknown_parameters(params, SIMILAR_PARAMETERS)
    raw_n = params.get("n", "10")
    if not raw_n.isdigit() or not 1 <= int(raw_n) <= MAX_N:
        errors.append(FieldError("n", f"must be an integer between 1 and {MAX_N}"))
    fields = parse_fields(params.get("fields"), errors)
    if errors:
        return problem(400, "Invalid request", errors=errors)
    item_id = request.path_params["id"]
    items = request.app.state.engine.similar(item_id, int(raw_n), fields)  # 404 UnknownItem for an unknown id
    return JSONResponse({"item_id": item_id, "items": items})
