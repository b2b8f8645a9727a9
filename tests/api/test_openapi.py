"""/openapi.json is a valid OpenAPI 3.1 document that lists every route of the app."""

from __future__ import annotations

from openapi_spec_validator import validate
from starlette.routing import Route

from tastemaker.api.auth import required_permission, roles_with

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
            permission = required_permission(method.upper(), concrete)
            if permission is None:
                assert op.get("security") == [] and "x-required-permission" not in op, (method, path)
            else:
                assert op["x-required-permission"] == permission, (method, path, permission)
                assert op["x-roles"] == roles_with(permission) and f"`{permission}` permission" in op["description"]
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


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method, path, op


def _validator(spec, schema):
    from jsonschema import Draft202012Validator

    # The schema's $refs point into the document: validate with the document's components beside it.
    return Draft202012Validator({**schema, "components": spec["components"]})


def _resolve(spec, response):
    ref = response.get("$ref")
    return spec["components"]["responses"][ref.rsplit("/", 1)[-1]] if ref else response


def test_every_example_validates_against_its_schema(anon):
    spec = anon.get("/openapi.json").json()
    checked = 0
    for method, path, op in _operations(spec):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            for name, example in media.get("examples", {}).items():
                errors = list(_validator(spec, media["schema"]).iter_errors(example["value"]))
                assert not errors, (method, path, "request", name, [e.message for e in errors])
                checked += 1
        for status, response in op["responses"].items():
            for media_type, media in _resolve(spec, response).get("content", {}).items():
                if "example" in media:
                    errors = list(_validator(spec, media["schema"]).iter_errors(media["example"]))
                    assert not errors, (method, path, status, [e.message for e in errors])
                    checked += 1
        for param in op.get("parameters", []) + spec["paths"][path].get("parameters", []):
            if "example" in param:
                assert not list(_validator(spec, param["schema"]).iter_errors(param["example"])), (path, param["name"])
    assert checked > 60


def test_every_operation_shows_a_request_and_every_status_an_example(anon):
    spec = anon.get("/openapi.json").json()
    for method, path, op in _operations(spec):
        if "requestBody" in op:
            assert all(m.get("examples") for m in op["requestBody"]["content"].values()), (method, path)
        for status, response in op["responses"].items():
            content = _resolve(spec, response).get("content", {})
            json_media = {k: v for k, v in content.items() if "json" in k}
            if json_media and path != "/openapi.json":
                assert all("example" in m for m in json_media.values()), (method, path, status)
        assert op.get("tags"), (method, path)


def test_errors_the_server_answers_with_are_documented(anon):
    spec = anon.get("/openapi.json").json()
    for method, path, op in _operations(spec):
        if "requestBody" in op and path != "/v1/placements/{name}":
            assert "400" in op["responses"], (method, path, "malformed JSON")
        if "requestBody" in op:
            assert "413" in op["responses"], (method, path)
    put = spec["paths"]["/v1/placements/{name}"]
    assert "400" in put["put"]["responses"] and "400" in put["delete"]["responses"]  # invalid names


def test_the_event_type_names_the_built_in_types(anon):
    from tastemaker.schema.records import BUILTIN_EVENT_TYPES

    event_type = anon.get("/openapi.json").json()["components"]["schemas"]["Event"]["properties"]["type"]
    assert event_type["examples"] == list(BUILTIN_EVENT_TYPES)
    assert all(f"`{t}`" in event_type["description"] for t in BUILTIN_EVENT_TYPES)


def test_the_request_examples_are_accepted_by_the_server(client):
    """Sent in document order (items exist before they are patched), each example succeeds."""
    spec = client.get("/openapi.json").json()
    sent = 0
    for method, path, op in _operations(spec):
        if "requestBody" not in op or path == "/v1/models/train" or path.startswith("/oauth/"):  # training: tests/api/test_models.py; the form: test_oauth
            continue
        params = op.get("parameters", []) + spec["paths"][path].get("parameters", [])
        url = path
        for p in params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(p["example"]))
        for name, example in op["requestBody"]["content"]["application/json"]["examples"].items():
            r = client.request(method.upper(), url, json=example["value"])
            assert 200 <= r.status_code < 300, (method, url, name, r.text)
            assert str(r.status_code) in op["responses"], (method, url, r.status_code)
            sent += 1
    assert sent >= 12


def test_a_user_profile_validates_against_the_documented_schema(client):
    """GET /v1/users/{id} answers a UserProfile for a stored user, a user known from events only, and both."""
    spec = client.get("/openapi.json").json()
    validator = _validator(spec, {"$ref": "#/components/schemas/UserProfile"})
    client.post("/v1/users", json={"id": "stored-only"})
    client.post("/v1/items", json=[{"id": "a"}])
    client.post("/v1/events", json=[{"id": "e1", "type": "view", "user_id": "events-only", "item_id": "a"},
                                    {"id": "e2", "type": "view", "user_id": "both", "item_id": "a"}])
    client.post("/v1/users", json={"id": "both", "traits": {"plan": "pro"}})
    for user in ("stored-only", "events-only", "both"):
        body = client.get(f"/v1/users/{user}").json()
        assert not list(validator.iter_errors(body)), (user, body)
        assert {"id", "traits", "consent", "activity"} <= set(body)


def test_a_write_only_key_gets_the_documented_acknowledgement(client, anon):
    """PUT and PATCH answer the stored record to a reader and {id, written} to an ingest-only key: both documented."""
    spec = anon.get("/openapi.json").json()
    token = client.post("/v1/keys", json={"name": "writer", "scopes": ["ingest"]}).json()["token"]
    writer = {"Authorization": f"Bearer {token}"}
    for path, body, patch in (("/v1/items/sku-1", {"title": "Shoe"}, {"price": 3.5}),
                              ("/v1/users/u-1", {"traits": {"a": 1}}, {"traits": {"b": 2}})):
        for method, payload in (("put", body), ("patch", patch)):
            schema = spec["paths"][path.rsplit("/", 1)[0] + "/{id}"][method]["responses"]["200"]["content"]["application/json"]["schema"]
            as_writer = anon.request(method.upper(), path, json=payload, headers=writer)
            as_admin = client.request(method.upper(), path, json=payload)
            assert as_writer.json() == {"id": path.rsplit("/", 1)[1], "written": True}
            assert "written" not in as_admin.json()
            for r in (as_writer, as_admin):
                assert not list(_validator(spec, schema).iter_errors(r.json())), (method, path, r.json())


def test_every_write_documents_a_full_disk(anon):
    spec = anon.get("/openapi.json").json()
    full = spec["components"]["responses"]["InsufficientStorage"]
    assert "Retry-After" in full["headers"] and full["content"]["application/problem+json"]["example"]["status"] == 507
    for method, path, op in _operations(spec):
        if method != "get" and op.get("security") != []:
            assert "507" in op["responses"], (method, path)
