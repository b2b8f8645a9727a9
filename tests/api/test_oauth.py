"""OAuth2 client credentials, access tokens, signing-key rotation and JWKS; browser keys bound
to one user; keys and clients restricted to placements; the CLI rotation."""

from __future__ import annotations

import os
import stat
import time

import jwt
import pytest
from starlette.testclient import TestClient

from tastemaker import cli
from tastemaker.api.app import build_app
from tastemaker.engine import Engine

from .helpers import JOB_POLL_S, JOB_WAIT_S, assert_problem


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_client(client: TestClient, scopes: list[str], **extra) -> dict:
    r = client.post("/v1/oauth/clients", json={"name": "svc", "scopes": scopes, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def get_token(anon: TestClient, c: dict, **form) -> dict:
    r = anon.post("/oauth/token", data={"grant_type": "client_credentials", **form}, auth=(c["client_id"], c["client_secret"]))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def test_client_credentials_token_has_the_claims_and_verifies_with_the_jwks(client, anon):
    c = new_client(client, ["read", "ingest"])
    answer = get_token(anon, c)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 900 and answer["scope"] == "ingest read"
    jwks = anon.get("/.well-known/jwks.json").json()
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    header = jwt.get_unverified_header(answer["access_token"])
    assert header["alg"] == "ES256"
    key = jwt.PyJWK({k["kid"]: k for k in jwks["keys"]}[header["kid"]])
    claims = jwt.decode(answer["access_token"], key, algorithms=["ES256"], audience="tastemaker-api", issuer="tastemaker")
    assert claims["sub"] == c["client_id"] and claims["scope"] == "ingest read"
    assert {"exp", "iat", "nbf", "jti"} <= set(claims) and claims["exp"] - claims["iat"] == 900
    assert anon.get("/v1/items/x", headers=bearer(answer["access_token"])).status_code == 404  # read: allowed
    # form fields instead of HTTP Basic; scope narrowing
    r = anon.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": c["client_id"],
                                        "client_secret": c["client_secret"], "scope": "read"})
    narrowed = r.json()["access_token"]
    assert r.json()["scope"] == "read"
    assert anon.get("/v1/items/x", headers=bearer(narrowed)).status_code == 404
    body = assert_problem(anon.post("/v1/items", json=[{"id": "a"}], headers=bearer(narrowed)), 403)
    assert "catalog.write" in body["detail"] and "OAuth client" in body["detail"]


@pytest.mark.parametrize("form, auth, status, error", [
    ({"grant_type": "password"}, True, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "scope": "admin"}, True, 400, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": ""}, True, 400, "invalid_scope"),
    ({"grant_type": "client_credentials"}, False, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "nope"}, False, 401, "invalid_client"),
])
def test_token_request_errors_name_the_rfc_6749_error(client, anon, form, auth, status, error):
    c = new_client(client, ["read"])
    r = anon.post("/oauth/token", data=form, auth=(c["client_id"], c["client_secret"]) if auth else None)
    assert assert_problem(r, status)["error"] == error


def test_a_wrong_secret_an_api_key_or_a_revoked_client_gets_no_token(client, anon):
    c = new_client(client, ["read"])
    key = client.post("/v1/keys", json={"name": "k", "scopes": ["read"]}).json()
    for auth in ((c["client_id"], c["client_secret"] + "x"), (key["key_id"], key["token"])):
        assert assert_problem(anon.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth), 401)["error"] \
            == "invalid_client"
    token = get_token(anon, c)["access_token"]
    assert anon.get("/v1/items/x", headers=bearer(token)).status_code == 404
    assert client.delete(f"/v1/oauth/clients/{c['client_id']}").status_code == 204
    body = assert_problem(anon.get("/v1/items/x", headers=bearer(token)), 401)  # at once, though the token has not expired
    assert "revoked" in body["detail"]
    assert anon.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=(c["client_id"], c["client_secret"])).status_code == 401
    assert [x["revoked"] for x in client.get("/v1/oauth/clients").json()["clients"]] == [True]
    assert all(k["key_id"] != c["client_id"] for k in client.get("/v1/keys").json()["keys"])


def test_rotation_keeps_old_tokens_valid_and_private_keys_private(client, anon, settings):
    c = new_client(client, ["read"])
    old = get_token(anon, c)["access_token"]
    rotated = client.post("/v1/oauth/signing-keys/rotate").json()
    new = get_token(anon, c)["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == rotated["active"] != jwt.get_unverified_header(old)["kid"]
    assert len(rotated["keys"]) == 2
    for token in (old, new):
        assert anon.get("/v1/items/x", headers=bearer(token)).status_code == 404
    assert {k["kid"] for k in anon.get("/.well-known/jwks.json").json()["keys"]} == {k["kid"] for k in rotated["keys"]}
    directory = settings.data_dir / "signing-keys"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    pems = list(directory.glob("*.pem"))
    assert len(pems) == 2 and all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in pems)
    served = b"".join(anon.get(p).content for p in ("/.well-known/jwks.json", "/openapi.json", "/v1/oauth/signing-keys/rotate"))
    assert all(p.read_bytes().splitlines()[1] not in served for p in pems)
    # a key retired longer ago than a token lives is deleted at the next rotation
    keys = client.app.state.tokens.keys
    keys.rotate(now=keys.active.created_at + keys.keep_s + 1)
    assert len(keys.keys) == 2 and len(list(directory.glob("*.pem"))) == 2


def test_a_rotation_by_the_cli_is_picked_up_by_a_running_server(client, anon, settings, capsys):
    c = new_client(client, ["read"])
    before = get_token(anon, c)["access_token"]
    assert cli.main(["auth", "rotate-signing-key", "--data-dir", str(settings.data_dir)]) == 0
    kid = capsys.readouterr().out.split()[3].rstrip(";")
    after = get_token(anon, c)["access_token"]
    assert jwt.get_unverified_header(after)["kid"] == kid
    assert all(anon.get("/v1/items/x", headers=bearer(t)).status_code == 404 for t in (before, after))
    # a second server process over the same data dir verifies both
    with TestClient(build_app(Engine(settings))) as other:
        assert all(other.get("/v1/items/x", headers=bearer(t)).status_code == 404 for t in (before, after))
    assert [r["action"] for r in client.get("/v1/audit").json()["records"]][0] == "signing_keys.rotate"


def test_a_browser_key_may_only_act_for_its_user(seeded, anon):
    client = seeded
    key = client.post("/v1/keys", json={"name": "web", "scopes": ["browser"], "user_id": "shopper"}).json()
    web = bearer(key["token"])
    ev = {"id": "b1", "type": "view", "user_id": "shopper", "item_id": "i00"}
    assert anon.post("/v1/events", json=ev, headers=web).status_code == 200
    before = client.get("/readyz").json()["log_seq"]
    body = assert_problem(anon.post("/v1/events", json=[{**ev, "id": "b2"}, {**ev, "id": "b3", "user_id": "other"}],
                                    headers=web), 403)
    assert "event 1 is for another user" in body["detail"]
    assert client.get("/readyz").json()["log_seq"] == before  # nothing of the batch was written
    assert anon.get("/v1/recommendations", params={"user_id": "shopper"}, headers=web).status_code == 200  # fast path
    body = assert_problem(anon.get("/v1/recommendations", params={"user_id": "other"}, headers=web), 403)
    assert "bound to one user" in body["detail"]
    assert anon.get("/v1/items/i00/similar", headers=web).status_code == 200
    for method, path in (("GET", "/v1/users/shopper"), ("POST", "/v1/items"), ("GET", "/v1/items/i00"), ("GET", "/v1/keys")):
        assert_problem(anon.request(method, path, headers=web), 403)


@pytest.mark.parametrize("body, field", [
    ({"name": "w", "scopes": ["browser"]}, "/user_id"),
    ({"name": "w", "scopes": ["browser", "read"], "user_id": "u"}, "/scopes"),
    ({"name": "w", "scopes": ["read"], "user_id": "u"}, "/scopes"),
    ({"name": "w", "scopes": ["read"], "placements": [""]}, "/placements"),
])
def test_invalid_bindings_are_refused(client, body, field):
    assert assert_problem(client.post("/v1/keys", json=body), 422)["field"] == field
    assert client.get("/v1/keys").json()["keys"] == [k for k in client.get("/v1/keys").json()["keys"] if k["name"] != "w"]


@pytest.mark.parametrize("body, field", [
    ({"name": "c", "scopes": ["read"], "user_id": "u"}, "/user_id"),  # a client acts for an application
    ({"name": "c", "scopes": ["browser"]}, "/user_id"),
    ({"name": "c", "scopes": ["read"], "placements": ["x" * 65]}, "/placements"),
])
def test_invalid_clients_are_refused(client, body, field):
    assert assert_problem(client.post("/v1/oauth/clients", json=body), 422)["field"] == field
    assert client.get("/v1/oauth/clients").json()["clients"] == []


def test_keys_and_clients_restricted_to_placements(seeded, anon):
    client = seeded
    key = client.post("/v1/keys", json={"name": "cart", "scopes": ["read"], "placements": ["cart"]}).json()
    c = new_client(client, ["read"], placements=["cart"])
    for token in (key["token"], get_token(anon, c)["access_token"]):
        assert anon.get("/v1/recommendations", params={"user_id": "u", "placement": "cart"}, headers=bearer(token)).status_code == 200
        body = assert_problem(anon.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(token)), 403)
        assert "placement 'home'" in body["detail"] and "cart" in body["detail"]
        assert anon.get("/v1/items/i00", headers=bearer(token)).status_code == 200  # other reads are not placements


def test_erasing_a_user_deletes_their_browser_keys(client, anon):
    key = client.post("/v1/keys", json={"name": "web", "scopes": ["browser"], "user_id": "leaver"}).json()
    client.post("/v1/items", json=[{"id": "i"}])
    assert anon.post("/v1/events", json={"id": "l1", "type": "view", "user_id": "leaver", "item_id": "i"},
                     headers=bearer(key["token"])).status_code == 200
    job = client.delete("/v1/users/leaver", params={"erase": "true"}).json()
    deadline = time.monotonic() + JOB_WAIT_S
    while client.get(f"/v1/privacy/jobs/{job['id']}").json()["status"] == "running" and time.monotonic() < deadline:
        time.sleep(JOB_POLL_S)
    assert client.get(f"/v1/privacy/jobs/{job['id']}").json()["steps"]["keys"] == 1
    assert_problem(anon.get("/v1/recommendations", params={"user_id": "leaver"}, headers=bearer(key["token"])), 401)


def test_token_lifetime_issuer_and_audience_come_from_settings(settings, monkeypatch):
    from tastemaker.api.tokens import AUDIENCE, ISSUER, LEEWAY_S, TOKEN_TTL_S
    from tastemaker.config import Settings

    defaults = Settings(data_dir=settings.data_dir)
    assert (defaults.token_ttl_s, defaults.token_leeway_s, defaults.token_issuer, defaults.token_audience) == (
        TOKEN_TTL_S, LEEWAY_S, ISSUER, AUDIENCE)
    monkeypatch.setenv("TASTEMAKER_TOKEN_TTL_S", "120")
    monkeypatch.setenv("TASTEMAKER_TOKEN_ISSUER", "https://reco.example")
    monkeypatch.setenv("TASTEMAKER_TOKEN_AUDIENCE", "shop-api")
    custom = Settings(data_dir=settings.data_dir, admin_key=settings.admin_key, durable=False)
    with TestClient(build_app(Engine(custom)), headers={"Authorization": f"Bearer {settings.admin_key}"}) as client:
        anon = TestClient(client.app)
        answer = get_token(anon, new_client(client, ["read"]))
        assert answer["expires_in"] == 120
        claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
        assert (claims["iss"], claims["aud"], claims["exp"] - claims["iat"]) == ("https://reco.example", "shop-api", 120)
        assert anon.get("/v1/items/x", headers=bearer(answer["access_token"])).status_code == 404  # accepted here
    monkeypatch.setenv("TASTEMAKER_TOKEN_TTL_S", "0")
    with pytest.raises(ValueError, match="TASTEMAKER_TOKEN_TTL_S must be > 0"):
        Settings(data_dir=settings.data_dir)
