"""``GET /v1/recommendations`` straight from ASGI, ahead of the router.

The recommendation request is the one the engine serves thousands of times a second; going
through Starlette's router, exception middleware and request objects cost about as much as
the pipeline itself (py-spy under wrk). This middleware answers it with the same auth check,
the same metrics and the same error bodies as the routed endpoints, and passes every other
request on unchanged. Both it and the routed ``get_recommendations`` (kept for the OpenAPI/docs
table and for apps built without this middleware) answer with ``Engine.recommend``.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.auth import authorize, recommendation_refusal
from tastemaker.api.keys import KeyVerifier
from tastemaker.api.metrics import Metrics
from tastemaker.api.pseudonyms import map_user_param
from tastemaker.api.responses import encode_json, from_validation
from tastemaker.engine import Engine
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.request import parse_request

PATH = "/v1/recommendations"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class RecommendationsFastPath:
    def __init__(self, app: ASGIApp, engine: Engine, verifier: KeyVerifier, metrics: Metrics):
        self.app = app
        self.engine = engine
        self.verifier = verifier
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            response = authorize(self.verifier, scope, "recommendations.read")
            if response is None:
                params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
                map_user_param(self.engine.pseudonyms, params)  # the stored id (privacy.pseudonyms), before any check
                # a browser key (one user) or a key limited to placements: a dict check when unbound
                response = recommendation_refusal(scope["tastemaker.key"], params)
            if response is None:
                try:
                    body = encode_json(self.engine.recommend(parse_request(params)))
                except ValidationFailed as exc:
                    response = from_validation(exc)
                else:
                    status = 200
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
            status = response.status_code
            await response(scope, receive, send)
        finally:
            self.metrics.observe("GET", PATH, status, time.perf_counter() - start)
