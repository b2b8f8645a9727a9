"""OAuth2 client credentials (RFC 6749 §4.4) with JWT access tokens (api.tokens).

- ``POST /oauth/token`` (public): ``grant_type=client_credentials``, the client authenticated
  by HTTP Basic (``client_id:client_secret``) or by the form fields ``client_id`` and
  ``client_secret``; an optional ``scope`` (space-separated roles) narrows what the token
  grants to a subset of the client's roles. Answers ``{"access_token", "token_type": "Bearer",
  "expires_in", "scope"}``; errors are problem documents that also carry RFC 6749's ``error``.
- ``GET /.well-known/jwks.json`` (public): the public keys that verify tokens.
- ``/v1/oauth/clients`` (``keys.manage``; listing ``keys.read``): create, list, revoke clients.
- ``POST /v1/oauth/signing-keys/rotate`` (``keys.manage``): a new signing key (also
  ``tastemaker auth rotate-signing-key``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import read_body
from tastemaker.api.keys import check_client_secret, create_key
from tastemaker.api.keys_api import decode_grant, public
from tastemaker.api.responses import JSONResponse, encode_json, problem
from tastemaker.schema.errors import FieldError

_FORM_LIMIT = 8 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


def _oauth_error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    # RFC 9457 problem document carrying RFC 6749 §5.2's `error` as an extension member
    body = {"type": "about:blank", "title": "Token request refused", "status": status, "detail": detail, "error": error}
    return Response(encode_json(body), status_code=status, media_type="application/problem+json",
                    headers={**_NO_STORE, **(headers or {})})


def _basic_credentials(header: str | None) -> tuple[str, str] | None | bool:
    """(client_id, secret) from an HTTP Basic header; None without one; False when malformed."""
    if header is None or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else False  # RFC 6749 §2.3.1: form-encoded first


async def token(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "send the token request as application/x-www-form-urlencoded (RFC 6749)")
    raw = await read_body(request, _FORM_LIMIT)
    try:
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=16))
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "invalid_request", "the form body is not valid application/x-www-form-urlencoded")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be 'client_credentials'")
    basic = _basic_credentials(request.headers.get("authorization"))
    if basic is False:
        return _oauth_error(401, "invalid_client", "malformed HTTP Basic credentials", {"WWW-Authenticate": "Basic"})
    credentials = basic or (form.get("client_id"), form.get("client_secret"))
    if not credentials[0] or not credentials[1]:
        return _oauth_error(401, "invalid_client", "authenticate the client: HTTP Basic client_id:client_secret, or the "
                                                   "form fields client_id and client_secret", {"WWW-Authenticate": "Basic"})
    client = check_client_secret(request.app.state.engine.stores.keys, credentials[0], credentials[1])
    if client is None:
        return _oauth_error(401, "invalid_client", "unknown or revoked client, or a wrong secret", {"WWW-Authenticate": "Basic"})
    roles = client.scopes
    if "scope" in form:
        asked = frozenset(form["scope"].split())
        if not asked or not asked <= client.scopes:
            return _oauth_error(400, "invalid_scope", f"scope must be a non-empty subset of the client's roles "
                                                      f"({' '.join(sorted(client.scopes))})")
        roles = asked
    access, claims = request.app.state.tokens.issue(client.key_id, roles, client.placements)
    body = {"access_token": access, "token_type": "Bearer", "expires_in": claims["exp"] - claims["iat"], "scope": claims["scope"]}
    return JSONResponse(body, headers=_NO_STORE)


async def jwks(request: Request) -> Response:
    return JSONResponse(request.app.state.tokens.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def post_client(request: Request) -> Response:
    body = await decode_grant(request, "client")
    record, secret = create_key(request.app.state.engine.stores.keys, body.name, set(body.scopes),
                                placements=body.placements, kind="client")
    out = public(record, "client_id")
    audit.record(request, "oauth_clients.create", record.key_id,
                 {"name": record.name, "scopes": out["scopes"], "placements": out["placements"]})
    return JSONResponse({**out, "client_secret": secret}, status_code=201)


async def list_clients(request: Request) -> Response:
    records = request.app.state.engine.stores.keys.list()
    return JSONResponse({"clients": [public(r, "client_id") for r in records if r.kind == "client"]})


async def revoke_client(request: Request) -> Response:
    """Revoking a client refuses its access tokens on the next request (api.keys.KeyVerifier)."""
    stores = request.app.state.engine.stores
    client_id = request.path_params["id"]
    found = stores.keys.find(client_id)
    if found is None or found[0].kind != "client" or not stores.keys.revoke(client_id):
        return problem(404, "Unknown client", errors=[FieldError("id", f"no active OAuth client '{client_id}'")])
    request.app.state.verifier.forget()
    audit.record(request, "oauth_clients.revoke", client_id)
    return Response(status_code=204)


def signing_key_summary(keys: Any) -> dict[str, Any]:
    return {"active": keys.active.kid, "keys": [{"kid": k.kid, "created_at": k.created_at, "retired_at": k.retired_at}
                                                 for k in keys.keys.values()]}


async def rotate_signing_key(request: Request) -> Response:
    keys = request.app.state.tokens.keys
    if keys.from_env:
        return problem(409, "Signing key from the environment",
                       "the signing key comes from TASTEMAKER_JWT_PRIVATE_KEY: rotate it there and restart")
    new = keys.rotate()
    audit.record(request, "signing_keys.rotate", new.kid, {"kept": sorted(k for k in keys.keys if k != new.kid)})
    return JSONResponse(signing_key_summary(keys))
