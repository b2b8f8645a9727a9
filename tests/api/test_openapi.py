"""/openapi.json is a valid OpenAPI 3.1 document that lists every route of the app."""

from __future__ import annotations

from openapi_spec_validator import validate
from starlette.routing import Route

from tastemaker.api.auth import required_scope

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_openapi_document_is_valid_3_1(anon):
    r = anon.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on an invalid document


def test_every_route_is_documented_and_nothing_else(client, anon):
    spec = anon.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in METHODS}
    routes = {(m, r.path) for r in client.app.routes if isinstance(r, Route) for m in r.methods if m != "HEAD"}
    assert routes - documented == set(), "routes missing from /openapi.json"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_documented_security_matches_the_middleware(anon):
    spec = anon.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            concrete = path.replace("{id}", "x").replace("{type}", "view")
            scope = required_scope(method.upper(), concrete)
            if scope is None:
                assert op.get("security") == [], (method, path)
            else:
                assert f"`{scope}` scope" in op.get("description", ""), (method, path, scope)
                assert "401" in op["responses"] and "403" in op["responses"], (method, path)


def test_record_schemas_are_the_contract_fields(anon):
    schemas = anon.get("/openapi.json").json()["components"]["schemas"]
    assert {"id", "type", "user_id", "session_id", "item_id", "item_ids", "value", "query", "context", "timestamp",
            "recommendation_id"} <= set(schemas["Event"]["properties"])
    assert {"id", "title", "description", "categories", "brand", "price", "margin", "stock", "tags", "created_at",
            "properties"} <= set(schemas["Item"]["properties"])
    assert {"id", "traits", "consent"} <= set(schemas["User"]["properties"])
    assert set(schemas["Recommendations"]["required"]) == {"recommendation_id", "placement", "items", "model_version"}
    assert set(schemas["Problem"]["required"]) >= {"type", "title", "status"}


def test_recommendation_response_validates_against_the_documented_schema(client, anon):
    import jsonschema

    spec = anon.get("/openapi.json").json()
    client.post("/v1/items", json=[{"id": "a"}, {"id": "b"}])
    client.post("/v1/events", json=[{"id": "1", "type": "view", "user_id": "u", "item_id": "a"},
                                    {"id": "2", "type": "view", "user_id": "u", "item_id": "b"}])
    body = client.get("/v1/recommendations", params={"user_id": "u", "explain": "true"}).json()
    schema = {"$ref": "#/components/schemas/Recommendations", "components": spec["components"]}
    jsonschema.validate(body, schema)
    problem = client.get("/v1/recommendations", params={"user_id": "u", "n": "x"}).json()
    jsonschema.validate(problem, {"$ref": "#/components/schemas/Problem", "components": spec["components"]})
