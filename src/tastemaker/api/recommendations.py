"""``GET /v1/recommendations`` and ``GET /v1/items/{id}/similar``: the hot read path."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError
from tastemaker.serving.request import MAX_N, parse_request


async def get_recommendations(request: Request) -> Response:
    engine = request.app.state.engine
    engine.catch_up()
    return JSONResponse(engine.recommender.recommend(parse_request(request.query_params)))


async def get_similar(request: Request) -> Response:
    engine = request.app.state.engine
    engine.catch_up()
    item_id = request.path_params["id"]
    raw_n = request.query_params.get("n", "10")
    if not raw_n.isdigit() or not 1 <= int(raw_n) <= MAX_N:
        return problem(400, "Invalid request", errors=[FieldError("n", f"must be an integer between 1 and {MAX_N}")])
    if engine.state.index.get(item_id) is None and engine.stores.items.get(item_id) is None:
        return problem(404, "Unknown item", errors=[FieldError("id", f"no item '{item_id}'")])
    return JSONResponse({"item_id": item_id, "items": engine.recommender.similar(item_id, int(raw_n))})
