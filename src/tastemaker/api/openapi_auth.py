"""The OpenAPI entries of authentication and authorization.

Every protected operation states its policy in the document itself: ``x-required-permission``
(the permission of api.auth.required_permission for its path), ``x-roles`` (the roles that
grant it, from api.auth.ROLES) and, where a parameter changes it, ``x-conditional-permissions``.
tests/api/test_auth_matrix.py generates its requests from these fields. Also: the security
schemes (an API key as a bearer token; OAuth2 client credentials), the token endpoint, the
JWKS, OAuth clients and signing-key rotation.
"""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.auth import BUCKET, PERMISSIONS, ROLES, required_permission, roles_with
from tastemaker.api.openapi_schemas import _n, _obj, _s, ref

TOKEN_URL = "/oauth/token"
ROLE_NAMES = sorted(ROLES)
_CLIENT_ID = "c4e1b9a07d3f2"
_NOW = 1764921600.0


def security_schemes() -> dict[str, Any]:
    return {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "An API key `tm_<key id>_<secret>` or an OAuth access token (a JWT from "
                                  f"`POST {TOKEN_URL}`), sent as `Authorization: Bearer <token>`"},
        "oauth2": {"type": "oauth2", "description": "OAuth2 client credentials: the scopes are role names",
                   "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": {
                       r: ", ".join(sorted(ROLES[r])) for r in ROLE_NAMES}}}},
    }


def policy(key: str, scope: str) -> dict[str, Any]:
    """The policy fields of the operation ``key`` ("METHOD path"); ``scope`` is the rate-limit
    bucket the operation was declared with, checked against the permission's."""
    method, path = key.split(" ", 1)
    permission = required_permission(method, path)
    assert permission is not None and BUCKET.get(permission, "admin") == scope, (key, permission, scope)
    roles = roles_with(permission)
    return {"x-required-permission": permission, "x-roles": roles,
            "security": [{"bearer": []}, {"oauth2": [r for r in roles if r != "browser"]}],
            "description": f"Requires the `{permission}` permission ({PERMISSIONS[permission]}); roles: "
                           + ", ".join(f"`{r}`" for r in roles) + "."}


def auth_schemas() -> dict[str, Any]:
    roles = {"type": "array", "items": {"type": "string", "enum": ROLE_NAMES}, "description": "Role names (api.auth)"}
    placements = {"type": ["array", "null"], "items": {"type": "string"},
                  "description": "The only placements it may ask recommendations for (null: any)"}
    client = _obj({"client_id": _s("The client id"), "name": _s("Label"), "scopes": roles,
                   "created_at": _n("Epoch seconds"), "revoked": {"type": "boolean"}, "placements": placements},
                  ["client_id", "name", "scopes", "created_at", "revoked", "placements"])
    return {
        "ApiKey": _obj({
            "key_id": _s("Public key id (the token is `tm_<key_id>_<secret>`)"), "name": _s("Label"), "scopes": roles,
            "created_at": _n("Epoch seconds"), "revoked": {"type": "boolean"}, "placements": placements,
            "user_id": {"type": ["string", "null"], "description": "The user a browser key is bound to"},
        }, ["key_id", "name", "scopes", "created_at", "revoked"]),
        "OAuthClient": client,
        "NewOAuthClient": {"allOf": [ref("OAuthClient"), _obj({"client_secret": _s("Shown once, store it now")},
                                                                ["client_secret"])]},
        "OAuthClientList": _obj({"clients": {"type": "array", "items": ref("OAuthClient")}}, ["clients"]),
        "ClientRequest": _obj({"name": _s("Label", minLength=1, maxLength=200),
                               "scopes": {**roles, "minItems": 1, "maxItems": 16},
                               "placements": {"type": "array", "items": {"type": "string"}, "maxItems": 64}},
                              ["name", "scopes"], closed=True),
        "TokenRequest": _obj({"grant_type": {"type": "string", "enum": ["client_credentials"]},
                              "client_id": _s("With client_secret, instead of HTTP Basic"), "client_secret": _s("The secret"),
                              "scope": _s("Space-separated roles: a subset of the client's (default: all of them)")},
                             ["grant_type"]),
        "TokenResponse": _obj({"access_token": _s("An ES256 JWT"), "token_type": {"type": "string", "enum": ["Bearer"]},
                               "expires_in": _n("Seconds", "integer"), "scope": _s("The roles granted, space-separated")},
                              ["access_token", "token_type", "expires_in", "scope"]),
        "Jwks": _obj({"keys": {"type": "array", "items": _obj(
            {"kty": _s("EC"), "crv": _s("P-256"), "x": _s("base64url"), "y": _s("base64url"), "kid": _s("Key id"),
             "alg": _s("ES256"), "use": _s("sig")}, ["kty", "kid", "alg"])}}, ["keys"], "RFC 7517 JSON Web Key Set"),
        "SigningKeys": _obj({"active": _s("The kid that signs new tokens"), "keys": {"type": "array", "items": _obj(
            {"kid": _s("Key id"), "created_at": _n("Epoch seconds"),
             "retired_at": {"type": ["number", "null"], "description": "When it stopped signing (kept to verify)"}},
            ["kid", "created_at"])}}, ["active", "keys"]),
    }


def _examples(op: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for status, value in values.items():
        op["responses"][status]["content"]["application/json"]["example"] = value
    return op


def add_auth_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], path: Callable[..., dict[str, Any]],
                   problems: dict[str, tuple]) -> None:
    """The token endpoint, JWKS, OAuth clients and rotation; the erase condition of DELETE /v1/users/{id}."""
    malformed, too_large = problems["malformed"], problems["too_large"]
    token = op(f"POST {TOKEN_URL}", "Keys", "Get an access token (OAuth2 client credentials)", None,
               {"200": ("A bearer token for the API", ref("TokenResponse"))},
               [("400", "Invalid request, unsupported grant type or invalid scope (`error` names which, RFC 6749)",
                 "Token request refused", None, None),
                ("401", "Unknown or revoked client, or a wrong secret (`error`: `invalid_client`)",
                 "Token request refused", None, None), too_large],
               description="Authenticate the client with HTTP Basic (`client_id:client_secret`) or the form fields. "
                           "The token is an ES256 JWT valid for 15 minutes (`iss`, `aud`, `sub`, `exp`, `nbf`, `iat`, "
                           "`jti`, `scope`); verify it with `GET /.well-known/jwks.json`.")
    token["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": ref("TokenRequest"),
        "examples": {"narrowed": {"summary": "Only the read role", "value": {"grant_type": "client_credentials", "scope": "read"}}}}}}
    _examples(token, {"200": {"access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjYxMjA1LWE5ZjEwYzJlIn0.e30.c2ln",
                              "token_type": "Bearer", "expires_in": 900, "scope": "read"}})
    paths[TOKEN_URL] = {"post": token}
    paths["/.well-known/jwks.json"] = {"get": _examples(op(
        "GET /.well-known/jwks.json", "Keys", "The public keys that verify access tokens (JWKS)", None,
        {"200": ("Every key whose tokens may still be valid", ref("Jwks"))}),
        {"200": {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "20261205-a9f10c2e",
                           "alg": "ES256", "use": "sig"}]}})}
    client = {"client_id": _CLIENT_ID, "name": "etl", "scopes": ["ingest"], "created_at": _NOW, "revoked": False,
              "placements": None}
    new_client = op("POST /v1/oauth/clients", "Keys", "Create an OAuth client (the secret is shown once)", "admin",
                    {"201": ("Created", ref("NewOAuthClient"))},
                    [malformed, too_large, ("422", "Invalid roles or placements", "Invalid client request", "/scopes",
                                            "unknown role(s) ['write']; use [...]")], body=ref("ClientRequest"))
    new_client["requestBody"]["content"]["application/json"]["examples"] = {
        "etl": {"summary": "A back-office job that sends events and catalogue", "value": {"name": "etl", "scopes": ["ingest"]}}}
    paths["/v1/oauth/clients"] = {
        "get": _examples(op("GET /v1/oauth/clients", "Keys", "List OAuth clients", "admin",
                            {"200": ("Every client (never a secret)", ref("OAuthClientList"))}), {"200": {"clients": [client]}}),
        "post": _examples(new_client, {"201": {**client, "client_secret": "tm_" + _CLIENT_ID + "_Zm9yZ2V0LW1lLW5vdC1hLXNlY3JldA"}}),
    }
    paths["/v1/oauth/clients/{id}"] = {"delete": op(
        "DELETE /v1/oauth/clients/{id}", "Keys", "Revoke an OAuth client (its tokens stop working at once)", "admin",
        {"204": ("Revoked", {})}, [("404", "Unknown client", "Unknown client", "id", "no active OAuth client 'c0000'")],
        parameters=[path("id", "The client id", _CLIENT_ID)])}
    paths["/v1/oauth/signing-keys/rotate"] = {"post": _examples(op(
        "POST /v1/oauth/signing-keys/rotate", "Keys", "Sign new tokens with a new key", "admin",
        {"200": ("The keyring after rotation", ref("SigningKeys"))},
        [("409", "The signing key comes from the environment", "Signing key from the environment", None, None)],
        description="Older keys keep verifying until the tokens they signed have expired, then are deleted. "
                    "Also `tastemaker auth rotate-signing-key`."),
        {"200": {"active": "20261205-a9f10c2e", "keys": [
            {"kid": "20261101-0b7e44d1", "created_at": _NOW - 86400 * 34, "retired_at": _NOW},
            {"kid": "20261205-a9f10c2e", "created_at": _NOW, "retired_at": None}]}})}
    erase = paths["/v1/users/{id}"]["delete"]
    erase["x-conditional-permissions"] = [{"parameter": "erase", "in": "query", "values": ["true", "1"],
                                           "permission": required_permission("DELETE", "/v1/users/{id}", b"erase=true")}]

