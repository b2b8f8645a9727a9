"""Authentication and scopes over every route of the app, table-driven."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine

from .helpers import assert_problem

PUBLIC = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]

# (method, route path) -> (required scope, how to call it successfully: (path, kwargs), expected status)
Call = Callable[[dict[str, str]], tuple[str, dict[str, Any]]]
EV = {"id": "auth-e1", "type": "view", "user_id": "x", "item_id": "x"}
PROTECTED: dict[tuple[str, str], tuple[str, Call, int]] = {
    ("POST", "/v1/events"): ("ingest", lambda s: ("/v1/events", {"json": EV}), 200),
    ("GET", "/v1/recommendations"): ("read", lambda s: ("/v1/recommendations", {"params": {"user_id": "x"}}), 200),
    ("GET", "/v1/items/{id}/similar"): ("read", lambda s: ("/v1/items/x/similar", {}), 200),
    ("POST", "/v1/items"): ("ingest", lambda s: ("/v1/items", {"json": [{"id": "y"}]}), 200),
    ("GET", "/v1/items/{id}"): ("read", lambda s: ("/v1/items/x", {}), 200),
    ("PUT", "/v1/items/{id}"): ("ingest", lambda s: ("/v1/items/x", {"json": {"title": "t"}}), 200),
    ("PATCH", "/v1/items/{id}"): ("ingest", lambda s: ("/v1/items/x", {"json": {"title": "t"}}), 200),
    ("DELETE", "/v1/items/{id}"): ("ingest", lambda s: ("/v1/items/x", {}), 204),
    ("POST", "/v1/users"): ("ingest", lambda s: ("/v1/users", {"json": [{"id": "y"}]}), 200),
    ("GET", "/v1/users/{id}"): ("read", lambda s: ("/v1/users/x", {}), 200),
    ("PUT", "/v1/users/{id}"): ("ingest", lambda s: ("/v1/users/x", {"json": {"traits": {}}}), 200),
    ("PATCH", "/v1/users/{id}"): ("ingest", lambda s: ("/v1/users/x", {"json": {"traits": {"a": 1}}}), 200),
    ("DELETE", "/v1/users/{id}"): ("ingest", lambda s: ("/v1/users/x", {}), 204),
    ("GET", "/v1/users/{id}/export"): ("admin", lambda s: ("/v1/users/x/export", {}), 200),
    ("GET", "/v1/event-schemas"): ("read", lambda s: ("/v1/event-schemas", {}), 200),
    ("POST", "/v1/event-schemas"): ("admin", lambda s: ("/v1/event-schemas", {"json": {"type": "custom_x", "version": 1}}), 201),
    ("GET", "/v1/event-schemas/{type}"): ("read", lambda s: ("/v1/event-schemas/view", {}), 200),
    ("GET", "/v1/keys"): ("admin", lambda s: ("/v1/keys", {}), 200),
    ("POST", "/v1/keys"): ("admin", lambda s: ("/v1/keys", {"json": {"name": "k", "scopes": ["read"]}}), 201),
    ("DELETE", "/v1/keys/{id}"): ("admin", lambda s: (f"/v1/keys/{s['victim']}", {}), 204),
    ("GET", "/v1/models"): ("read", lambda s: ("/v1/models", {}), 200),
    ("POST", "/v1/models/train"): ("admin", lambda s: ("/v1/models/train", {"json": {"family": "nope"}}), 422),
    ("GET", "/v1/models/train/jobs"): ("read", lambda s: ("/v1/models/train/jobs", {}), 200),
    ("GET", "/v1/models/train/jobs/{id}"): ("read", lambda s: ("/v1/models/train/jobs/nope", {}), 404),
    ("POST", "/v1/models/rollback"): ("admin", lambda s: ("/v1/models/rollback", {}), 409),
    ("POST", "/v1/models/{version}/promote"): ("admin", lambda s: ("/v1/models/999/promote", {}), 404),
    ("GET", "/v1/placements"): ("read", lambda s: ("/v1/placements", {}), 200),
    ("GET", "/v1/placements/{name}"): ("read", lambda s: ("/v1/placements/home", {}), 200),
    ("PUT", "/v1/placements/{name}"): ("admin", lambda s: ("/v1/placements/auth-p", {"json": {"sources": {"trending": 1}}}), 201),
    ("DELETE", "/v1/placements/{name}"): ("admin", lambda s: ("/v1/placements/auth-p", {}), 404),
    ("GET", "/v1/audit"): ("admin", lambda s: ("/v1/audit", {}), 200),
    ("GET", "/v1/privacy/jobs"): ("admin", lambda s: ("/v1/privacy/jobs", {}), 200),
    ("GET", "/v1/privacy/jobs/{id}"): ("admin", lambda s: ("/v1/privacy/jobs/nope", {}), 404),
}
# a key that must NOT be enough for each scope
LACKING = {"read": "ingest", "ingest": "read", "admin": "read+ingest"}


def app_routes(app) -> set[tuple[str, str]]:
    return {(m, r.path) for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(client: TestClient) -> dict[str, str]:
    """Item and user ``x``, and one key per scope combination (created through the API)."""
    assert client.post("/v1/items", json=[{"id": "x", "categories": ["c"]}]).status_code == 200
    assert client.post("/v1/users", json=[{"id": "x"}]).status_code == 200
    tokens = {}
    for name, scopes in {"read": ["read"], "ingest": ["ingest"], "admin": ["admin"], "read+ingest": ["read", "ingest"],
                         "victim": ["read"]}.items():
        r = client.post("/v1/keys", json={"name": name, "scopes": scopes})
        assert r.status_code == 201, r.text
        tokens[name] = r.json()["token"]
        if name == "victim":
            tokens[name] = r.json()["key_id"]
    return tokens


def test_the_table_covers_every_route_of_the_app(client):
    routes = app_routes(client.app)
    public = {(m, p) for m, p in routes if p in PUBLIC}
    assert {p for _, p in public} == set(PUBLIC)
    assert routes - public == set(PROTECTED), "a route was added or removed: update PROTECTED"


@pytest.mark.parametrize("route", sorted(PROTECTED), ids=lambda r: f"{r[0]} {r[1]}")
def test_protected_route(client, anon, world, route):
    method, _ = route
    scope, call, ok_status = PROTECTED[route]
    path, kwargs = call(world)

    r = anon.request(method, path, **kwargs)
    body = assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization" in body["detail"]

    for wrong in ("not-a-key", "tm_abcdef_wrongsecret", f"tm_{world['victim']}_wrong", world["read"] + "x"):
        assert_problem(anon.request(method, path, headers=bearer(wrong), **kwargs), 401)
    assert_problem(anon.request(method, path, headers={"Authorization": f"Basic {world['admin']}"}, **kwargs), 401)

    r = anon.request(method, path, headers=bearer(world[LACKING[scope]]), **kwargs)
    body = assert_problem(r, 403)
    assert scope in body["detail"]

    # the exact scope is enough (for admin routes that is the admin key itself)
    r = anon.request(method, path, headers=bearer(world[scope]), **kwargs)
    assert r.status_code == ok_status, r.text


@pytest.mark.parametrize("route", sorted(PROTECTED), ids=lambda r: f"{r[0]} {r[1]}")
def test_env_admin_key_can_do_everything(client, world, route):
    _, call, ok_status = PROTECTED[route]
    path, kwargs = call(world)
    r = client.request(route[0], path, **kwargs)  # the client sends TASTEMAKER_ADMIN_KEY
    assert r.status_code == ok_status, r.text


@pytest.mark.parametrize("path", PUBLIC)
def test_public_routes_need_no_key(anon, path):
    r = anon.get(path)
    assert r.status_code == 200, r.text
    # a wrong key does not hurt either
    assert anon.get(path, headers=bearer("garbage")).status_code == 200


def test_head_on_a_protected_route_needs_a_key(anon, world):
    assert anon.head("/v1/items/x").status_code == 401
    assert anon.head("/v1/items/x", headers=bearer(world["read"])).status_code == 200


def test_unknown_v1_path_still_requires_a_key(anon, world):
    assert anon.get("/v1/nothing-here").status_code == 401
    assert anon.get("/v1/nothing-here", headers=bearer(world["read"])).status_code == 404


def test_revoked_key_stops_working(client, anon, world):
    token = client.post("/v1/keys", json={"name": "temp", "scopes": ["read"]}).json()
    assert anon.get("/v1/items/x", headers=bearer(token["token"])).status_code == 200
    assert client.delete(f"/v1/keys/{token['key_id']}").status_code == 204
    assert_problem(anon.get("/v1/items/x", headers=bearer(token["token"])), 401)


def test_admin_key_from_settings_survives_restart_and_is_not_duplicated(settings):
    for _ in range(2):
        app = build_app(Engine(settings))
        with TestClient(app) as c:
            assert c.get("/v1/keys", headers=bearer(settings.admin_key)).status_code == 200
            keys = c.get("/v1/keys", headers=bearer(settings.admin_key)).json()["keys"]
            assert [k["name"] for k in keys] == ["TASTEMAKER_ADMIN_KEY"]
            assert keys[0]["scopes"] == ["admin"]


def test_without_any_key_configured_everything_protected_is_401(tmp_path):
    app = build_app(Engine(Settings(data_dir=tmp_path, admin_key=None, durable=False)))
    with TestClient(app) as c:
        assert c.get("/v1/recommendations", params={"user_id": "u"}).status_code == 401
        assert c.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer("anything")).status_code == 401
        assert c.get("/healthz").status_code == 200


# -- 401s that say how to fix the header (issue 11) -------------------------------------


@pytest.mark.parametrize("path", ["/v1/items/x", "/v1/recommendations?user_id=x"])  # routed and fast path
def test_missing_header_says_what_to_send(anon, world, path):
    body = assert_problem(anon.get(path), 401)
    assert body["detail"] == "missing Authorization header: send Authorization: Bearer <api key>"


@pytest.mark.parametrize("path", ["/v1/items/x", "/v1/recommendations?user_id=x"])
def test_a_key_without_the_bearer_prefix_is_not_reported_missing(anon, world, path):
    token = world["read"]
    body = assert_problem(anon.get(path, headers={"Authorization": token}), 401)
    assert body["detail"] == "the Authorization header was sent but must be 'Bearer <api key>' (it has no 'Bearer ' prefix)"
    assert token not in body["detail"]  # the key is never echoed
    body = assert_problem(anon.get(path, headers={"Authorization": f"Token {token}"}), 401)
    assert body["detail"] == "the Authorization header was sent but must be 'Bearer <api key>' (it uses the 'Token' scheme)"
    body = assert_problem(anon.get(path, headers={"Authorization": "Bearer "}), 401)
    assert body["detail"] == "the Authorization header was sent but must be 'Bearer <api key>' (it holds no key)"
    # the same key with the prefix works, whatever the scheme's case
    assert anon.get(path, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_an_unknown_key_is_called_invalid(anon, world):
    body = assert_problem(anon.get("/v1/items/x", headers=bearer("tm_nope_nope")), 401)
    assert body["detail"] == "the API key is not valid (unknown or revoked)"
