"""JSON and RFC 9457 problem responses."""

from __future__ import annotations

import json

from tastemaker.api.responses import JSONResponse, from_validation, problem
from tastemaker.schema.errors import FieldError, ValidationFailed


def test_problem_with_errors_names_the_first_field():
    r = problem(422, "Invalid", errors=[FieldError("/0/value", "bad"), FieldError("/1/id", "worse")])
    assert r.status_code == 422
    assert r.media_type == "application/problem+json"
    body = json.loads(r.body)
    assert body == {
        "type": "about:blank", "title": "Invalid", "status": 422, "field": "/0/value",
        "errors": [{"field": "/0/value", "reason": "bad"}, {"field": "/1/id", "reason": "worse"}],
        "detail": "/0/value: bad; /1/id: worse",
    }


def test_problem_without_errors():
    r = problem(401, "Unauthorized", "no key", headers={"WWW-Authenticate": "Bearer"})
    assert json.loads(r.body) == {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "no key"}
    assert r.headers["www-authenticate"] == "Bearer"
    assert json.loads(problem(500, "Oops").body) == {"type": "about:blank", "title": "Oops", "status": 500}


def test_from_validation_keeps_status_and_title():
    r = from_validation(ValidationFailed([FieldError("n", "too big")], title="Invalid request", status=400))
    body = json.loads(r.body)
    assert r.status_code == 400 and body["title"] == "Invalid request" and body["field"] == "n"


def test_json_response_encodes_structs_and_unicode():
    r = JSONResponse({"a": [1, 2.5, None], "ü": "ß"}, status_code=201)
    assert r.status_code == 201 and r.media_type == "application/json"
    assert json.loads(r.body) == {"a": [1, 2.5, None], "ü": "ß"}


def test_unhandled_errors_become_a_500_problem(client, monkeypatch):
    from starlette.testclient import TestClient

    engine = client.app.state.engine

    def boom(request):
        raise RuntimeError("kaputt")

    monkeypatch.setattr(engine.recommender, "recommend", boom)
    quiet = TestClient(client.app, raise_server_exceptions=False, headers=dict(client.headers))
    r = quiet.get("/v1/recommendations", params={"user_id": "u"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 500 and "kaputt" not in r.text


def test_unknown_route_and_method_are_problems(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.put("/v1/events", json={})
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
