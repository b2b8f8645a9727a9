"""Limits on what one request can make large: bodies (413 on every route that reads one,
checked before decoding) and the lists inside requests (400/422 naming the field)."""

from __future__ import annotations

import pytest

from tastemaker.serving.placement_config import MAX_RULES
from tastemaker.serving.request import MAX_EXCLUDE

from .helpers import assert_problem

MIB = 2**20


@pytest.mark.parametrize("method, path", [("POST", "/v1/keys"), ("PUT", "/v1/placements/big"), ("POST", "/v1/event-schemas"),
                                          ("POST", "/v1/models/train"), ("PUT", "/v1/users/u1"), ("PATCH", "/v1/items/i1")])
def test_small_bodies_are_capped_at_the_document_size(client, method, path):
    client.post("/v1/items", json=[{"id": "i1"}])
    limit = client.app.state.engine.settings.max_document_bytes * (2 if path.startswith(("/v1/users", "/v1/items")) else 1)
    body = b'{"name": "' + b"x" * limit + b'"}'
    r = client.request(method, path, content=body, headers={"content-type": "application/json"})
    problem = assert_problem(r, 413)
    assert f"exceeds {limit} bytes" in problem["detail"]


def test_exclude_holds_at_most_max_exclude_ids(client):
    ids = ",".join(f"i{k}" for k in range(MAX_EXCLUDE + 1))
    body = assert_problem(client.get("/v1/recommendations", params={"user_id": "u", "exclude": ids}), 400, "exclude")
    assert f"at most {MAX_EXCLUDE}" in body["detail"]
    ok = ",".join(f"i{k}" for k in range(MAX_EXCLUDE))
    assert client.get("/v1/recommendations", params={"user_id": "u", "exclude": ok}).status_code == 200


def test_a_key_request_lists_few_scopes(client):
    assert_problem(client.post("/v1/keys", json={"name": "k", "scopes": ["read"] * 17}), 422, "/scopes")


def test_an_event_schema_is_bounded(client):
    props = {f"p{k}": {"type": "string"} for k in range(257)}
    assert_problem(client.post("/v1/event-schemas", json={"type": "big", "properties": props}), 422, "/properties")
    assert_problem(client.post("/v1/event-schemas", json={"type": "big", "description": "x" * 4097}), 422, "/description")


def test_a_placement_holds_at_most_max_rules(client):
    rules = [{"where": f"price > {k}"} for k in range(MAX_RULES + 1)]
    body = assert_problem(client.put("/v1/placements/many", json={"sources": {"trending": 1}, "rules": rules}), 422)
    assert any(e["field"].endswith("/rules") and f"at most {MAX_RULES}" in e["reason"] for e in body["errors"]), body
    assert client.put("/v1/placements/many", json={"sources": {"trending": 1}, "rules": rules[:MAX_RULES]}).status_code == 201
