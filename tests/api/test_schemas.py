"""/v1/event-schemas: list, versions, register (compatible or 409)."""

from __future__ import annotations

from tastemaker.schema.records import BUILTIN_EVENT_TYPES

from .helpers import assert_problem


def test_builtin_schemas_are_listed(client):
    body = client.get("/v1/event-schemas").json()
    by_type = {s["type"]: s for s in body["schemas"]}
    assert set(by_type) == set(BUILTIN_EVENT_TYPES)
    assert by_type["rating"]["requires"] == ["item", "value"]
    assert by_type["search"]["requires"] == ["query"]
    assert by_type["view"]["requires"] == ["item"]
    assert all(s["version"] == 1 for s in body["schemas"])


def test_versions_of_one_type(client):
    body = client.get("/v1/event-schemas/view").json()
    assert body["type"] == "view" and [v["version"] for v in body["versions"]] == [1]
    assert_problem(client.get("/v1/event-schemas/unknown_type"), 404, field="type")


def test_register_new_type_and_a_compatible_version(client):
    v1 = {"type": "quiz_answer", "version": 1, "requires": ["item", "value"], "value_min": 0, "value_max": 10,
          "properties": {"q": {"type": "string", "required": True}}, "description": "a quiz"}
    r = client.post("/v1/event-schemas", json=v1)
    assert r.status_code == 201
    assert r.json() == {**v1, "value_min": 0.0, "value_max": 10.0}
    v2 = {**v1, "version": 2, "value_max": 100, "properties": {**v1["properties"], "hint": {"type": "boolean"}}}
    assert client.post("/v1/event-schemas", json=v2).status_code == 201
    versions = client.get("/v1/event-schemas/quiz_answer").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    latest = {s["type"]: s for s in client.get("/v1/event-schemas").json()["schemas"]}["quiz_answer"]
    assert latest["version"] == 2
    # value range of v2 enforced
    ok = {"id": "q1", "type": "quiz_answer", "user_id": "u", "item_id": "i", "value": 50, "properties": {"q": "a"}}
    assert client.post("/v1/events", json=ok).json()["accepted"] == 1
    assert_problem(client.post("/v1/events", json={**ok, "id": "q2", "value": 101}), 422, field="/value")
    assert_problem(client.post("/v1/events", json={**ok, "id": "q3", "properties": {"q": "a", "hint": "yes"}}), 422,
                   field="/properties/hint")


def test_incompatible_versions_are_409_with_reasons(client):
    v1 = {"type": "quiz_answer", "version": 1, "value_min": 0, "value_max": 10, "properties": {"q": {"type": "string"}}}
    assert client.post("/v1/event-schemas", json=v1).status_code == 201
    cases = [
        ({**v1, "version": 2, "value_min": 1}, "/value_min"),
        ({**v1, "version": 2, "value_max": 5}, "/value_max"),
        ({**v1, "version": 2, "properties": {"q": {"type": "string", "required": True}}}, "/properties/q"),
        ({**v1, "version": 2, "properties": {"q": {"type": "string"}, "new": {"type": "string", "required": True}}}, "/properties/new"),
        ({**v1, "version": 1}, "/version"),
    ]
    for schema, field in cases:
        body = assert_problem(client.post("/v1/event-schemas", json=schema), 409, field=field)
        assert body["errors"][0]["reason"]
    # builtin types evolve by the same rule
    assert_problem(client.post("/v1/event-schemas", json={"type": "view", "version": 2, "requires": ["item", "query"]}), 409, field="/requires")
    assert [v["version"] for v in client.get("/v1/event-schemas/quiz_answer").json()["versions"]] == [1]


def test_first_version_must_be_1(client):
    assert_problem(client.post("/v1/event-schemas", json={"type": "brand_new", "version": 2}), 409, field="/version")
    assert client.get("/v1/event-schemas/brand_new").status_code == 404


def test_invalid_schema_documents_are_422(client):
    assert_problem(client.post("/v1/event-schemas", json={"type": "Bad Type"}), 422, field="/type")
    assert_problem(client.post("/v1/event-schemas", json={"type": "ok", "requires": ["teleport"]}), 422)
    assert_problem(client.post("/v1/event-schemas", json={"type": "ok", "properties": {"p": {"type": "date"}}}), 422)
    assert_problem(client.post("/v1/event-schemas", json={"type": "ok", "whatever": 1}), 422, field="/whatever")
    assert_problem(client.post("/v1/event-schemas", content=b"{"), 400)
    assert client.get("/v1/event-schemas/ok").status_code == 404


def test_a_schema_range_must_be_finite_and_ordered(client):
    body = assert_problem(client.post("/v1/event-schemas", json={"type": "stars", "value_min": 5, "value_max": 1}),
                          422, "/value_min")
    assert "greater than value_max" in body["detail"]
    assert_problem(client.post("/v1/event-schemas", content=b'{"type": "stars", "value_max": 1e999}'), 422)
    assert client.get("/v1/event-schemas/stars").status_code == 404


def test_a_registered_range_is_enforced_with_the_scale_named(client):
    r = client.post("/v1/event-schemas", json={"type": "stars", "requires": ["item", "value"], "value_min": 1, "value_max": 10})
    assert r.status_code == 201, r.text
    ok = {"id": "s1", "type": "stars", "user_id": "u", "item_id": "i", "value": 10}
    assert client.post("/v1/events", json=ok).status_code == 200
    body = assert_problem(client.post("/v1/events", json={**ok, "id": "s2", "value": 11}), 422, "/value")
    assert body["errors"][0]["reason"] == "must be <= 10 ('stars' values range from 1 to 10)"


def test_the_builtin_rating_schema_shows_its_scale(client):
    (rating,) = [s for s in client.get("/v1/event-schemas").json()["schemas"] if s["type"] == "rating"]
    assert (rating["value_min"], rating["value_max"]) == (0.0, 5.0)
