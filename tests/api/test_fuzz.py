"""Property-based: whatever the body, POST /v1/events and /v1/items never answer 5xx.

Every answer is 200 or a 4xx RFC 9457 problem naming a field.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tastemaker.schema.records import BUILTIN_EVENT_TYPES

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "2020-01-01T00:00:00Z", "2020-13-45", "1e400", "-0", "9999999999999", "nan", "view"])
)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)
ids = st.text(min_size=0, max_size=12) | st.integers() | st.none()
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(min_value=-(2**80), max_value=2**80) | scalars

events = st.fixed_dictionaries(
    {"id": ids, "type": st.sampled_from(BUILTIN_EVENT_TYPES) | st.text(max_size=10), "user_id": ids},
    optional={
        "item_id": ids, "item_ids": st.lists(ids, max_size=3) | json_values, "session_id": ids, "value": numbers,
        "query": st.text(max_size=30) | json_values, "context": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
        "timestamp": numbers | st.text(max_size=25), "recommendation_id": ids,
        "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=3), "schema_version": numbers,
        "unexpected": json_values,
    },
)
good_ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=10)
valid_events = st.fixed_dictionaries(
    {"id": good_ids, "type": st.sampled_from(["view", "click", "purchase", "like", "add_to_cart"]), "user_id": good_ids,
     "item_id": good_ids},
    optional={"value": st.floats(allow_nan=False, allow_infinity=False), "timestamp": st.integers(0, 1_700_000_000),
              "context": st.dictionaries(st.sampled_from(["device", "geo", "channel", "locale"]), st.text(max_size=5), max_size=2),
              "session_id": good_ids},
)


@st.composite
def mutated_events(draw):
    """A valid event with at most one field replaced by something random: near the boundary."""
    event = draw(valid_events)
    if draw(st.booleans()):
        field = draw(st.sampled_from(["id", "type", "user_id", "item_id", "item_ids", "value", "timestamp", "context",
                                      "session_id", "query", "properties", "schema_version", "recommendation_id"]))
        event[field] = draw(json_values | numbers | st.text(max_size=30))
    return event


items = st.fixed_dictionaries(
    {"id": ids},
    optional={
        "title": st.text(max_size=20) | json_values, "categories": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "brand": st.text(max_size=5) | json_values, "price": numbers, "margin": numbers, "stock": numbers,
        "tags": st.lists(st.text(max_size=5), max_size=3) | json_values, "created_at": numbers | st.text(max_size=25),
        "properties": json_values, "description": st.text(max_size=20), "bogus": json_values,
    },
)


@pytest.fixture
def fuzz_client(client) -> TestClient:
    """Same app; a server error comes back as a response instead of an exception."""
    return TestClient(client.app, raise_server_exceptions=False, headers=dict(client.headers))


def check(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert response.headers["content-type"] == "application/json"
        return
    assert 400 <= response.status_code < 500, response.status_code
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert isinstance(body["field"], str)
    assert body["errors"] and all(isinstance(e["field"], str) and e["reason"] for e in body["errors"])


def post(client, path, body) -> None:
    check(client.post(path, content=body, headers={"content-type": "application/json"}))


def dumps(value) -> bytes:
    return json.dumps(value).encode()


@FUZZ
@given(body=json_values)
def test_events_random_json(fuzz_client, body):
    post(fuzz_client, "/v1/events", dumps(body))


@FUZZ
@given(body=st.binary(max_size=200))
def test_events_random_bytes(fuzz_client, body):
    post(fuzz_client, "/v1/events", body)


@FUZZ
@given(batch=st.lists(events, min_size=1, max_size=5) | events)
def test_events_random_fields(fuzz_client, batch):
    post(fuzz_client, "/v1/events", dumps(batch))


@FUZZ
@given(batch=st.lists(mutated_events(), min_size=1, max_size=4))
def test_events_mostly_valid(fuzz_client, batch):
    r = fuzz_client.post("/v1/events", content=dumps(batch))
    check(r)
    if r.status_code == 200:
        body = r.json()
        assert body["accepted"] + body["duplicates"] == len(batch)


@FUZZ
@given(body=json_values | st.lists(items, max_size=4) | items)
def test_items_random_bodies(fuzz_client, body):
    post(fuzz_client, "/v1/items", dumps(body))


@FUZZ
@given(item=items, patch=st.dictionaries(st.sampled_from(["price", "stock", "categories", "id", "title", "x"]), json_values, max_size=3))
def test_items_put_and_patch_random_fields(fuzz_client, item, patch):
    check(fuzz_client.put("/v1/items/fz", content=dumps(item)))
    fuzz_client.put("/v1/items/fz", json={"title": "base"})
    check(fuzz_client.patch("/v1/items/fz", content=dumps(patch)))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["user_id", "n", "placement", "exclude", "category", "brand", "explain",
                                               "include_purchased", "item_id", "device", "geo"]), st.text(max_size=12), max_size=6))
def test_recommendations_random_params(fuzz_client, params):
    r = fuzz_client.get("/v1/recommendations", params=params)
    check(r)
