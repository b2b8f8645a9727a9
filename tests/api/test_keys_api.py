"""/v1/keys: create, list, revoke; keys from the CLI; only hashes are stored."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from tastemaker import cli
from tastemaker.api.app import build_app
from tastemaker.api.keys import KeyVerifier, create_key, key_id_of
from tastemaker.engine import Engine

from .helpers import assert_problem


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_create_list_revoke(client, anon):
    r = client.post("/v1/keys", json={"name": "etl", "scopes": ["ingest", "read"]})
    assert r.status_code == 201
    created = r.json()
    assert set(created) == {"key_id", "name", "scopes", "created_at", "revoked", "placements", "user_id", "token"}
    assert created["name"] == "etl" and created["scopes"] == ["ingest", "read"] and created["revoked"] is False
    assert re.fullmatch(rf"tm_{created['key_id']}_[A-Za-z0-9_-]{{20,}}", created["token"])

    listed = client.get("/v1/keys").json()["keys"]
    mine = [k for k in listed if k["key_id"] == created["key_id"]]
    assert mine == [{k: v for k, v in created.items() if k != "token"}]
    assert all("token" not in k and "secret_hash" not in k for k in listed)

    assert anon.post("/v1/events", json={"id": "e", "type": "view", "user_id": "u", "item_id": "i"},
                     headers=bearer(created["token"])).status_code == 200
    assert client.delete(f"/v1/keys/{created['key_id']}").status_code == 204
    assert [k["revoked"] for k in client.get("/v1/keys").json()["keys"] if k["key_id"] == created["key_id"]] == [True]
    assert_problem(anon.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(created["token"])), 401)
    # revoking twice, or an unknown key, is 404
    assert_problem(client.delete(f"/v1/keys/{created['key_id']}"), 404, field="id")
    assert_problem(client.delete("/v1/keys/doesnotexist"), 404, field="id")


def test_two_keys_get_different_tokens(client):
    a = client.post("/v1/keys", json={"name": "a", "scopes": ["read"]}).json()
    b = client.post("/v1/keys", json={"name": "a", "scopes": ["read"]}).json()
    assert a["key_id"] != b["key_id"] and a["token"] != b["token"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "scopes": ["superuser"]}, "/scopes"),
        ({"name": "x", "scopes": []}, "/scopes"),
        ({"name": "", "scopes": ["read"]}, "/name"),
        ({"scopes": ["read"]}, None),
        ({"name": "x", "scopes": ["read"], "extra": 1}, "/extra"),
    ],
)
def test_invalid_key_requests(client, body, field):
    before = len(client.get("/v1/keys").json()["keys"])
    problem = assert_problem(client.post("/v1/keys", json=body), 422)
    if field:
        assert problem["field"] == field
    assert len(client.get("/v1/keys").json()["keys"]) == before


def test_keys_are_stored_hashed(client, settings):
    token = client.post("/v1/keys", json={"name": "secret", "scopes": ["read"]}).json()["token"]
    secret = token.split("_", 2)[2]
    engine = client.app.state.engine
    engine.stores.keys.list()  # make sure it is all written out
    files = [p for p in settings.data_dir.iterdir() if p.is_file()]
    assert any(p.name.startswith("tastemaker.db") for p in files)
    for path in files:
        data = path.read_bytes()
        assert token.encode() not in data, path
        assert secret.encode() not in data, path
    # and the admin key given in the settings is not stored in clear either
    for path in files:
        assert settings.admin_key.encode() not in path.read_bytes(), path


def test_key_created_with_the_cli_works(client, anon, settings, capsys):
    code = cli.main(["keys", "create", "--scope", "read", "--name", "dashboard", "--data-dir", str(settings.data_dir)])
    assert code == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("tm_")
    r = anon.get("/v1/items/nothing", headers=bearer(token))
    assert r.status_code == 404  # authenticated; the item just does not exist
    assert_problem(anon.post("/v1/items", json=[{"id": "a"}], headers=bearer(token)), 403)
    key_id = key_id_of(token)
    assert [k["name"] for k in client.get("/v1/keys").json()["keys"] if k["key_id"] == key_id] == ["dashboard"]
    # revoked from the CLI (its own stores, as another process would be): refused on the next request
    assert cli.main(["keys", "revoke", key_id, "--data-dir", str(settings.data_dir)]) == 0
    assert_problem(anon.get("/v1/items/nothing", headers=bearer(token)), 401)


def test_verifier_unit(client):
    store = client.app.state.engine.stores.keys
    record, token = create_key(store, "unit", {"ingest"})
    verifier = KeyVerifier(store)
    assert verifier.verify(token).key_id == record.key_id
    assert verifier.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verifier.verify("tm_nokey_secret") is None
    store.revoke(record.key_id)
    assert verifier.verify(token) is None  # the store's change token moved: no stale cache
    with pytest.raises(ValueError):
        create_key(store, "bad", {"root"})
    with pytest.raises(ValueError):
        create_key(store, "none", set())


def test_revocation_holds_at_once_on_another_server_of_the_data_dir(client, anon, settings):
    """Two apps on one data dir (two server processes, in-process here): revoke through one,
    the other refuses the key on its very next request, though it had just cached it."""
    token = client.post("/v1/keys", json={"name": "shared", "scopes": ["read"]}).json()["token"]
    second = build_app(Engine(settings))
    with TestClient(second) as other:
        for _ in range(3):  # verified, then served from the other app's cache
            assert other.get("/v1/items/nothing", headers=bearer(token)).status_code == 404
            assert other.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(token)).status_code == 200
        assert client.delete(f"/v1/keys/{key_id_of(token)}").status_code == 204
        assert_problem(other.get("/v1/items/nothing", headers=bearer(token)), 401)
        assert_problem(other.get("/v1/recommendations", params={"user_id": "u"}, headers=bearer(token)), 401)
        assert_problem(anon.get("/v1/items/nothing", headers=bearer(token)), 401)
