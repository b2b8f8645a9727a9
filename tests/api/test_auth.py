"""The auth matrix, generated from the OpenAPI document: for every operation of
``build_openapi()``, requests with no key, wrong keys, an API key of each role, an OAuth access
token of each role, and expired or tampered tokens (bad signature, ``alg: none``, HS256 keyed
with the public key, unknown ``kid``, wrong audience) answer as the operation's
``x-required-permission`` / ``x-roles`` / ``x-conditional-permissions`` say.

The document is the source: an operation added to it without a way to call it here fails
:func:`test_every_documented_operation_has_a_call`; the only hand-written part is how to call
each operation successfully (a path and a body), not who may.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.routing import Route
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.api.auth import ROLES
from tastemaker.api.openapi import build_openapi
from tastemaker.config import Settings
from tastemaker.engine import Engine

from .helpers import assert_problem

DOC = build_openapi()
METHODS = ("get", "put", "post", "patch", "delete")
OPERATIONS = {(m.upper(), path): op for path, item in DOC["paths"].items() for m, op in item.items() if m in METHODS}
PROTECTED = sorted(k for k, op in OPERATIONS.items() if "x-required-permission" in op)
PUBLIC = sorted(k for k, op in OPERATIONS.items() if op.get("security") == [])
KEY_ROLES = sorted(ROLES)  # an API key per role (browser: bound to user "x")
CLIENT_ROLES = sorted(set(ROLES) - {"browser"})  # an OAuth client per role (a client is never bound to a user)

# How to call each operation successfully: (path, request kwargs, the admin key's status).
Call = Callable[[dict[str, str]], tuple[str, dict[str, Any], int]]
EV = {"id": "auth-e1", "type": "view", "user_id": "x", "item_id": "x"}
CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/v1/events"): lambda w: ("/v1/events", {"json": EV}, 200),
    ("GET", "/v1/recommendations"): lambda w: ("/v1/recommendations", {"params": {"user_id": "x"}}, 200),
    ("GET", "/v1/items/{id}/similar"): lambda w: ("/v1/items/x/similar", {}, 200),
    ("POST", "/v1/items"): lambda w: ("/v1/items", {"json": [{"id": "y"}]}, 200),
    ("GET", "/v1/items/{id}"): lambda w: ("/v1/items/x", {}, 200),
    ("PUT", "/v1/items/{id}"): lambda w: ("/v1/items/x", {"json": {"title": "t"}}, 200),
    ("PATCH", "/v1/items/{id}"): lambda w: ("/v1/items/x", {"json": {"title": "t"}}, 200),
    ("DELETE", "/v1/items/{id}"): lambda w: ("/v1/items/y", {}, 204),
    ("POST", "/v1/users"): lambda w: ("/v1/users", {"json": [{"id": "y"}]}, 200),
    ("GET", "/v1/users/{id}"): lambda w: ("/v1/users/x", {}, 200),
    ("PUT", "/v1/users/{id}"): lambda w: ("/v1/users/x", {"json": {"traits": {}}}, 200),
    ("PATCH", "/v1/users/{id}"): lambda w: ("/v1/users/x", {"json": {"traits": {"a": 1}}}, 200),
    ("DELETE", "/v1/users/{id}"): lambda w: ("/v1/users/y", {}, 204),
    ("GET", "/v1/users/{id}/export"): lambda w: ("/v1/users/x/export", {}, 200),
    ("GET", "/v1/event-schemas"): lambda w: ("/v1/event-schemas", {}, 200),
    ("POST", "/v1/event-schemas"): lambda w: ("/v1/event-schemas", {"json": {"type": "custom_x", "version": 1}}, 201),
    ("GET", "/v1/event-schemas/{type}"): lambda w: ("/v1/event-schemas/view", {}, 200),
    ("GET", "/v1/keys"): lambda w: ("/v1/keys", {}, 200),
    ("POST", "/v1/keys"): lambda w: ("/v1/keys", {"json": {"name": "k", "scopes": ["read"]}}, 201),
    ("DELETE", "/v1/keys/{id}"): lambda w: (f"/v1/keys/{w['victim']}", {}, 204),
    ("GET", "/v1/oauth/clients"): lambda w: ("/v1/oauth/clients", {}, 200),
    ("POST", "/v1/oauth/clients"): lambda w: ("/v1/oauth/clients", {"json": {"name": "c", "scopes": ["read"]}}, 201),
    ("DELETE", "/v1/oauth/clients/{id}"): lambda w: (f"/v1/oauth/clients/{w['victim_client']}", {}, 204),
    ("POST", "/v1/oauth/signing-keys/rotate"): lambda w: ("/v1/oauth/signing-keys/rotate", {}, 200),
    ("GET", "/v1/models"): lambda w: ("/v1/models", {}, 200),
    ("POST", "/v1/models/train"): lambda w: ("/v1/models/train", {"json": {"family": "nope"}}, 422),
    ("GET", "/v1/models/train/jobs"): lambda w: ("/v1/models/train/jobs", {}, 200),
    ("GET", "/v1/models/train/jobs/{id}"): lambda w: ("/v1/models/train/jobs/nope", {}, 404),
    ("POST", "/v1/models/rollback"): lambda w: ("/v1/models/rollback", {}, 409),
    ("POST", "/v1/models/{version}/promote"): lambda w: ("/v1/models/999/promote", {}, 404),
    ("GET", "/v1/placements"): lambda w: ("/v1/placements", {}, 200),
    ("GET", "/v1/placements/{name}"): lambda w: ("/v1/placements/home", {}, 200),
    ("PUT", "/v1/placements/{name}"): lambda w: ("/v1/placements/auth-p", {"json": {"sources": {"trending": 1}}}, 201),
    ("DELETE", "/v1/placements/{name}"): lambda w: ("/v1/placements/auth-p", {}, 404),
    ("GET", "/v1/audit"): lambda w: ("/v1/audit", {}, 200),
    ("GET", "/v1/quarantine"): lambda w: ("/v1/quarantine", {}, 200),
    ("GET", "/v1/quarantine/users"): lambda w: ("/v1/quarantine/users", {}, 200),
    ("POST", "/v1/quarantine/release"): lambda w: ("/v1/quarantine/release", {"json": {"user_id": "x"}}, 200),
    ("POST", "/v1/quarantine/confirm"): lambda w: ("/v1/quarantine/confirm", {"json": {"seqs": [1]}}, 200),
    ("GET", "/v1/experiments"): lambda w: ("/v1/experiments", {}, 200),
    ("POST", "/v1/experiments"): lambda w: ("/v1/experiments", {"json": {"id": "auth-x", "placements": ["home"],
                                                                          "variants": [{"name": "a", "share": 2}]}}, 422),
    ("GET", "/v1/experiments/{id}"): lambda w: ("/v1/experiments/auth-x", {}, 404),
    ("PATCH", "/v1/experiments/{id}"): lambda w: ("/v1/experiments/auth-x", {"json": {"status": "running"}}, 404),
    ("GET", "/v1/experiments/{id}/results"): lambda w: ("/v1/experiments/auth-x/results", {}, 404),
    ("GET", "/v1/segments"): lambda w: ("/v1/segments", {}, 200),
    ("POST", "/v1/segments"): lambda w: ("/v1/segments", {"json": {"name": "auth-s", "expression": "user.orders > 1"}},
                                         201),
    ("GET", "/v1/segments/{name}"): lambda w: ("/v1/segments/auth-x", {}, 404),
    ("PUT", "/v1/segments/{name}"): lambda w: ("/v1/segments/auth-p", {"json": {"expression": "user.orders > 1"}}, 201),
    ("DELETE", "/v1/segments/{name}"): lambda w: ("/v1/segments/auth-x", {}, 404),
    ("GET", "/v1/privacy/jobs"): lambda w: ("/v1/privacy/jobs", {}, 200),
    ("GET", "/v1/privacy/jobs/{id}"): lambda w: ("/v1/privacy/jobs/nope", {}, 404),
    ("GET", "/v1/features"): lambda w: ("/v1/features", {}, 200),
    ("PUT", "/v1/features"): lambda w: ("/v1/features", {"json": {"features": []}}, 200),
    ("GET", "/v1/features/top/{name}"): lambda w: ("/v1/features/top/item_trend_1h", {}, 200),
    ("GET", "/v1/features/{entity}/{id}"): lambda w: ("/v1/features/item/x", {}, 200),
}
# A conditional permission's call: the parameter set, on a user nobody else touches.
CONDITIONAL: dict[tuple[str, str], Call] = {
    ("DELETE", "/v1/users/{id}"): lambda w: ("/v1/users/gone", {"params": {"erase": "true"}}, 202),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def bad_tokens(app, client_id: str) -> dict[str, str]:
    """Tokens that must all be refused with 401, each for one reason."""
    tokens = app.state.tokens
    good, claims = tokens.issue(client_id, frozenset({"admin"}), None)
    key = tokens.keys.active
    header, body, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    public_pem = key.private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger = ec.generate_private_key(ec.SECP256R1())
    return {
        "expired": tokens.issue(client_id, frozenset({"admin"}), None, now=time.time() - 3600)[0],
        "bad signature": f"{header}.{body}.{flipped}",
        "other claims, same signature": f"{header}.{_b64(json.dumps({**claims, 'sub': 'someone'}).encode())}.{signature}",
        "alg none": _forge({"alg": "none", "typ": "JWT", "kid": key.kid}, claims, lambda m: b""),
        "HS256 keyed with the public key": _forge({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims,
                                                  lambda m: hmac.new(public_pem, m, hashlib.sha256).digest()),
        "unknown kid": jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": "nope"}),
        "known kid, another key": jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": key.kid}),
        "wrong audience": jwt.encode({**claims, "aud": "another-api"}, key.private, algorithm="ES256", headers={"kid": key.kid}),
        "wrong issuer": jwt.encode({**claims, "iss": "elsewhere"}, key.private, algorithm="ES256", headers={"kid": key.kid}),
        "not yet valid": jwt.encode({**claims, "nbf": claims["iat"] + 3600}, key.private, algorithm="ES256",
                                    headers={"kid": key.kid}),
    }


@pytest.fixture
def world(no_rate_limits, client: TestClient) -> dict[str, Any]:
    """Item and user ``x``, an API key per role, an access token per client role, a victim key
    and client to revoke, and the tokens that must be refused."""
    assert client.post("/v1/items", json=[{"id": "x", "categories": ["c"]}, {"id": "y"}]).status_code == 200
    assert client.post("/v1/users", json=[{"id": "x"}, {"id": "y"}, {"id": "gone"}]).status_code == 200
    w: dict[str, Any] = {"keys": {}, "jwts": {}}
    for role in KEY_ROLES:
        body = {"name": role, "scopes": [role], **({"user_id": "x"} if role == "browser" else {})}
        r = client.post("/v1/keys", json=body)
        assert r.status_code == 201, r.text
        w["keys"][role] = r.json()["token"]
    for role in CLIENT_ROLES:
        c = client.post("/v1/oauth/clients", json={"name": role, "scopes": [role]}).json()
        r = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(c["client_id"], c["client_secret"]))
        assert r.status_code == 200, r.text
        w["jwts"][role] = r.json()["access_token"]
        w["secret"] = c["client_secret"]
    w["victim"] = client.post("/v1/keys", json={"name": "victim", "scopes": ["read"]}).json()["key_id"]
    w["victim_client"] = client.post("/v1/oauth/clients", json={"name": "victim", "scopes": ["read"]}).json()["client_id"]
    w["bad"] = bad_tokens(client.app, w["victim_client"])
    return w


def app_routes(app) -> set[tuple[str, str]]:
    return {(m, r.path) for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) if m != "HEAD"}


def test_every_documented_operation_has_a_call(client):
    assert set(PROTECTED) == set(CALLS), "an operation was added to or removed from the document: update CALLS"
    assert app_routes(client.app) == set(OPERATIONS)
    conditional = {k for k, op in OPERATIONS.items() if "x-conditional-permissions" in op}
    assert conditional == set(CONDITIONAL)


def _expect_refused(anon: TestClient, method: str, path: str, kwargs: dict, w: dict) -> None:
    body = assert_problem(anon.request(method, path, **kwargs), 401)
    assert "Authorization" in body["detail"]
    for wrong in ("not-a-key", "tm_abcdef_wrongsecret", f"tm_{w['victim']}_wrong", w["keys"]["read"] + "x", w["secret"]):
        assert_problem(anon.request(method, path, headers=bearer(wrong), **kwargs), 401)
    assert_problem(anon.request(method, path, headers={"Authorization": f"Basic {w['keys']['admin']}"}, **kwargs), 401)
    for why, token in w["bad"].items():
        r = anon.request(method, path, headers=bearer(token), **kwargs)
        assert r.status_code == 401, (why, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


def _expect_roles(anon: TestClient, method: str, path: str, kwargs: dict, w: dict, permission: str, ok_status: int) -> None:
    r = anon.request(method, path, headers=bearer(w["keys"]["admin"]), **kwargs)
    assert r.status_code == ok_status, r.text  # the admin role first: the call's own status
    for kind, tokens in (("key", w["keys"]), ("token", w["jwts"])):
        for role, token in tokens.items():
            r = anon.request(method, path, headers=bearer(token), **kwargs)
            if permission in ROLES[role]:
                assert r.status_code not in (401, 403), (kind, role, r.text)
            else:
                body = assert_problem(r, 403)
                assert permission in body["detail"], (kind, role)


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r[0]} {r[1]}")
def test_the_documented_policy_holds(anon, world, route):
    method, _ = route
    op = OPERATIONS[route]
    path, kwargs, ok_status = CALLS[route](world)
    _expect_refused(anon, method, path, kwargs, world)
    _expect_roles(anon, method, path, kwargs, world, op["x-required-permission"], ok_status)
    assert op["x-roles"] == sorted(r for r in ROLES if op["x-required-permission"] in ROLES[r])


@pytest.mark.parametrize("route", sorted(CONDITIONAL), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_documented_conditional_policy_holds(anon, world, route):
    method, _ = route
    path, kwargs, ok_status = CONDITIONAL[route](world)
    for condition in OPERATIONS[route]["x-conditional-permissions"]:
        assert kwargs["params"][condition["parameter"]] in condition["values"]
        _expect_refused(anon, method, path, kwargs, world)
        _expect_roles(anon, method, path, kwargs, world, condition["permission"], ok_status)


@pytest.mark.parametrize("route", PUBLIC, ids=lambda r: f"{r[0]} {r[1]}")
def test_public_operations_need_no_key(anon, world, route):
    method, path = route
    if method == "POST":  # the token endpoint authenticates the client itself (tests/api/test_oauth.py)
        assert anon.post(path, data={"grant_type": "client_credentials"}).status_code == 401
        return
    for headers in ({}, bearer("garbage"), bearer(world["bad"]["alg none"])):
        assert anon.get(path, headers=headers).status_code == 200


def test_head_on_a_protected_route_needs_a_key(anon, world):
    assert anon.head("/v1/items/x").status_code == 401
    assert anon.head("/v1/items/x", headers=bearer(world["keys"]["read"])).status_code == 200


def test_unknown_v1_path_still_requires_a_key(anon, world):
    assert anon.get("/v1/nothing-here").status_code == 401
    assert anon.get("/v1/nothing-here", headers=bearer(world["keys"]["read"])).status_code == 404


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
    token = world["keys"]["read"]
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
