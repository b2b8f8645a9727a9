"""The ASGI fast path for ``GET /v1/recommendations``: same answers as the router, no router."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tastemaker.api.hot_path import RecommendationsFastPath
from tastemaker.api.keys import KeyVerifier
from tastemaker.api.metrics import Metrics
from tastemaker.schema.errors import ValidationFailed

from ..conftest import ADMIN_KEY
from .helpers import seed

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


class Inner:
    """The app behind the fast path; records what reached it."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        self.paths.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


@pytest.fixture
def fast(client: TestClient):
    seed(client)
    engine = client.app.state.engine
    inner, metrics = Inner(), Metrics()
    app = RecommendationsFastPath(inner, engine, KeyVerifier(engine.stores.keys), metrics)
    return TestClient(app), inner, metrics, client


def test_answers_recommendations_itself_with_the_routed_body(fast):
    direct, inner, metrics, routed = fast
    params = {"user_id": "base0", "n": "5", "explain": "true"}
    got = direct.get("/v1/recommendations", params=params, headers=AUTH)
    want = routed.get("/v1/recommendations", params=params)
    assert inner.paths == []
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert int(got.headers["content-length"]) == len(got.content)
    body, expected = got.json(), want.json()
    assert body.pop("recommendation_id") != expected.pop("recommendation_id")
    assert body == expected and len(body["items"]) == 5
    assert metrics.requests[("GET", "/v1/recommendations", 200)] == 1


def test_other_requests_pass_through(fast):
    direct, inner, _, _ = fast
    assert direct.get("/v1/items/i00", headers=AUTH).status_code == 299
    assert direct.post("/v1/recommendations", headers=AUTH).status_code == 299
    assert direct.get("/v1/recommendations/x", headers=AUTH).status_code == 299
    assert inner.paths == [("GET", "/v1/items/i00"), ("POST", "/v1/recommendations"), ("GET", "/v1/recommendations/x")]


def test_auth_and_validation_errors_are_problems_and_counted(fast, client):
    direct, inner, metrics, _ = fast
    assert direct.get("/v1/recommendations", params={"user_id": "u"}).status_code == 401
    assert direct.get("/v1/recommendations", params={"user_id": "u"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    ingest_key = client.post("/v1/keys", json={"name": "w", "scopes": ["ingest"]}).json()["token"]
    r = direct.get("/v1/recommendations", params={"user_id": "u"}, headers={"Authorization": f"Bearer {ingest_key}"})
    assert r.status_code == 403 and "'recommendations.read'" in r.json()["detail"]
    r = direct.get("/v1/recommendations", params={"user_id": "u", "n": "x"}, headers=AUTH)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "n"
    assert inner.paths == []
    assert metrics.requests[("GET", "/v1/recommendations", 401)] == 2
    assert metrics.requests[("GET", "/v1/recommendations", 403)] == 1
    assert metrics.requests[("GET", "/v1/recommendations", 400)] == 1


def test_an_unexpected_error_is_a_logged_500_and_counted(client, monkeypatch):
    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(client.app.state.engine.recommender, "recommend", broken)
    raising = TestClient(client.app, raise_server_exceptions=False, headers=AUTH)
    r = raising.get("/v1/recommendations", params={"user_id": "u"})
    assert r.status_code == 500 and r.json()["title"] == "Internal Server Error"
    assert client.app.state.metrics.requests[("GET", "/v1/recommendations", 500)] == 1


def routed_only(full_app):
    """The app's router alone (no fast path, no middleware): the routed endpoint answers."""

    async def app(scope, receive, send):
        scope["app"] = full_app
        await full_app.router(scope, receive, send)

    return TestClient(app, headers=AUTH)


def test_fields_answer_as_the_routed_endpoint_does(fast):
    direct, inner, _, routed = fast
    params = {"user_id": "base-0-0", "n": "4", "fields": "title,price,properties.image", "explain": "true"}
    got = direct.get("/v1/recommendations", params=params, headers=AUTH)
    expected = routed_only(routed.app).get("/v1/recommendations", params=params)
    assert inner.paths == [] and got.status_code == expected.status_code == 200
    body, expected_body = got.json(), expected.json()
    assert body.pop("recommendation_id") != expected_body.pop("recommendation_id")
    assert body == expected_body and len(body["items"]) == 4
    assert all(e["item"] == {"title": f"Item {int(e['id'][1:])}", "price": 10.0 + int(e["id"][1:]),
                             "properties": {"image": None}} for e in body["items"])


@pytest.mark.parametrize("params", [{"userid": "alice"}, {"user_id": "u", "fields": "title,imgae"}])
def test_unknown_parameters_and_fields_fail_as_the_routed_endpoint_does(fast, params):
    direct, inner, _, routed = fast
    got = direct.get("/v1/recommendations", params=params, headers=AUTH)
    assert inner.paths == [] and got.status_code == 400
    with pytest.raises(ValidationFailed) as info:  # the router alone raises; the app's handler writes the problem
        routed_only(routed.app).get("/v1/recommendations", params=params)
    assert got.json()["errors"] == [{"field": e.field, "reason": e.reason} for e in info.value.errors]


def test_the_fast_path_and_the_route_both_go_through_engine_recommend(fast, monkeypatch):
    """One request path: the same RecommendationRequest reaches Engine.recommend either way."""
    direct, _, _, routed = fast
    engine = routed.app.state.engine
    seen, recommend = [], engine.recommend

    def spy(request):
        seen.append(request)
        return recommend(request)

    monkeypatch.setattr(engine, "recommend", spy)
    params = {"user_id": "base0", "n": "3", "placement": "email", "fields": "title"}
    assert direct.get("/v1/recommendations", params=params, headers=AUTH).status_code == 200
    assert routed.get("/v1/recommendations", params=params).status_code == 200
    assert len(seen) == 2 and seen[0] == seen[1] and seen[0].placement == "email" and seen[0].fields == ("title",)
