"""The audit trail through the API: every admin action and every consent change is recorded
(who, what, when, from where), ``GET /v1/audit`` pages through it, and the chain verifies."""

from __future__ import annotations

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.api.auth import required_scope
from tastemaker.api.keys import key_id_of
from tastemaker.storage.audit_chain import verify

from ..conftest import ADMIN_KEY
from .helpers import assert_problem, train

ADMIN = key_id_of(ADMIN_KEY)


def records(client: TestClient, startup: bool = False, **params) -> list[dict]:
    """The records of ``GET /v1/audit``; without the server's own record of registering
    ``TASTEMAKER_ADMIN_KEY`` as it started (seq 1), unless ``startup``."""
    r = client.get("/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return [x for x in r.json()["records"] if startup or x["actor"] != "server"]


def test_every_admin_write_route_is_audited(seeded):
    """Each admin route that changes something, called once: one record each, naming it."""
    client = seeded
    key = client.post("/v1/keys", json={"name": "shop", "scopes": ["read", "ingest"]}).json()
    assert client.delete(f"/v1/keys/{key['key_id']}").status_code == 204
    browser = client.post("/v1/keys", json={"name": "web", "scopes": ["browser"], "user_id": "u-77"}).json()
    oauth_client = client.post("/v1/oauth/clients", json={"name": "etl", "scopes": ["ingest"], "placements": ["home"]}).json()
    assert client.delete(f"/v1/oauth/clients/{oauth_client['client_id']}").status_code == 204
    rotated = client.post("/v1/oauth/signing-keys/rotate").json()
    assert client.post("/v1/event-schemas", json={"type": "wishlist", "version": 1}).status_code == 201
    assert client.put("/v1/placements/basket", json={"sources": {"trending": 1}}).status_code == 201
    assert client.put("/v1/placements/basket", json={"sources": {"trending": 2}}).status_code == 200
    assert client.delete("/v1/placements/basket").status_code == 204
    first = train(client, {"family": "popularity", "promote": "always"})
    second = train(client, {"family": "popularity", "promote": "never"})
    v1, v2 = first["result"]["version"]["version"], second["result"]["version"]["version"]
    assert client.post(f"/v1/models/{v2}/promote").status_code == 200
    assert client.post("/v1/models/rollback").status_code == 200
    assert client.post("/v1/segments", json={"name": "vip", "expression": "user.orders >= 2"}).status_code == 201
    assert client.put("/v1/segments/vip", json={"expression": "user.orders >= 3"}).status_code == 200
    assert client.delete("/v1/segments/vip").status_code == 204
    experiment = {"id": "ab", "placements": ["home"], "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    assert client.post("/v1/experiments", json=experiment).status_code == 201
    assert client.patch("/v1/experiments/ab", json={"status": "running"}).status_code == 200
    assert client.patch("/v1/experiments/ab", json={"status": "draft"}).status_code == 409
    # refused requests change nothing and record nothing
    assert client.delete("/v1/keys/nope").status_code == 404
    assert client.post("/v1/models/999/promote").status_code == 404

    got = [(r["action"], r["target"], r["summary"]) for r in records(client, order="asc")]
    sha = [s for a, _, s in got if a == "placements.put"]
    assert got == [
        ("keys.create", key["key_id"], {"name": "shop", "scopes": ["ingest", "read"]}),
        ("keys.revoke", key["key_id"], {}),
        # the user id stays out of the audit log (erasing the user deletes the key row that holds it)
        ("keys.create_browser", browser["key_id"], {"name": "web", "scopes": ["browser"], "bound_to_user": True}),
        ("oauth_clients.create", oauth_client["client_id"], {"name": "etl", "scopes": ["ingest"], "placements": ["home"]}),
        ("oauth_clients.revoke", oauth_client["client_id"], {}),
        ("signing_keys.rotate", rotated["active"], {"kept": [k["kid"] for k in rotated["keys"] if k["kid"] != rotated["active"]]}),
        ("event_schemas.register", "wishlist", {"version": 1}),
        ("placements.put", "basket", {"created": True, "body_sha256": sha[0]["body_sha256"]}),
        ("placements.put", "basket", {"created": False, "body_sha256": sha[1]["body_sha256"]}),
        ("placements.delete", "basket", {}),
        ("models.train", first["id"], {"family": "popularity", "params": {}, "promote": "always"}),
        # the job's own promotion, recorded by the worker for the key that asked for the job
        ("models.promote", str(v1), {"job": first["id"], "by": "train job", "promote": "always"}),
        ("models.train", second["id"], {"family": "popularity", "params": {}, "promote": "never"}),
        ("models.promote", str(v2), {"previous": v1}),
        ("models.rollback", str(v1), {"previous": v2}),
        ("segments.create", "vip", {"expression": "user.orders >= 2", "description": ""}),
        ("segments.update", "vip", {"expression": "user.orders >= 3", "description": ""}),
        ("segments.delete", "vip", {}),
        ("experiments.create", "ab", {"status": "draft", "body_sha256": got[-2][2].get("body_sha256")}),
        ("experiments.update", "ab", {"status": "running"}),
    ]
    assert sha[0]["body_sha256"] != sha[1]["body_sha256"]
    routes = {(m, r.path) for r in client.app.routes if isinstance(r, Route) for m in r.methods
              if m not in ("GET", "HEAD") and required_scope(m, r.path.replace("{id}", "x")) == "admin"}
    assert routes == {("POST", "/v1/keys"), ("DELETE", "/v1/keys/{id}"), ("POST", "/v1/event-schemas"),
                      ("POST", "/v1/oauth/clients"), ("DELETE", "/v1/oauth/clients/{id}"),
                      ("POST", "/v1/oauth/signing-keys/rotate"),
                      ("PUT", "/v1/placements/{name}"), ("DELETE", "/v1/placements/{name}"), ("POST", "/v1/models/train"),
                      ("POST", "/v1/models/{version}/promote"), ("POST", "/v1/models/rollback"),
                      ("POST", "/v1/experiments"), ("PATCH", "/v1/experiments/{id}"),
                      ("POST", "/v1/segments"), ("PUT", "/v1/segments/{name}"), ("DELETE", "/v1/segments/{name}"),
                      ("POST", "/v1/quarantine/release"), ("POST", "/v1/quarantine/confirm"),
                      ("PUT", "/v1/features")}, \
        "an admin route was added: audit it and add it here"
    assert {r["actor"] for r in records(client, action="models.promote")} == {ADMIN}
    assert verify(client.app.state.engine.stores.audit.iter_all()).ok


def test_a_record_says_who_and_from_where(client):
    anon = TestClient(client.app, client=("10.1.2.3", 5000))
    token = client.post("/v1/keys", json={"name": "ops", "scopes": ["admin"]}).json()
    anon.post("/v1/keys", json={"name": "by-ops", "scopes": ["read"]}, headers={"Authorization": f"Bearer {token['token']}"})
    first, second = records(client, order="asc")
    assert (first["actor"], first["address"]) == (ADMIN, "testclient")
    assert (second["actor"], second["address"], second["summary"]["name"]) == (token["key_id"], "10.1.2.3", "by-ops")
    assert second["prev_hash"] == first["hash"] and first["ts"] <= second["ts"]


def test_consent_changes_are_recorded_with_old_and_new(client):
    assert client.post("/v1/users", json=[{"id": "u1", "consent": {"personalization": True}},
                                          {"id": "u2", "traits": {"a": 1}}]).status_code == 200
    assert client.patch("/v1/users/u1", json={"consent": {"training": False}}).status_code == 200
    assert client.patch("/v1/users/u1", json={"traits": {"plan": "pro"}}).status_code == 200  # consent unchanged
    assert client.put("/v1/users/u1", json={"consent": {"personalization": True, "training": False}}).status_code == 200
    assert client.put("/v1/users/u2", json={"consent": {"personalization": False}}).status_code == 200
    assert client.post("/v1/items", json=[{"id": "i1"}]).status_code == 200  # items have no consent
    got = [(r["target"], r["summary"]) for r in records(client, action="consent.change", order="asc")]
    assert got == [
        ("u1", {"old": {}, "new": {"personalization": True}}),
        ("u1", {"old": {"personalization": True}, "new": {"personalization": True, "training": False}}),
        ("u2", {"old": {}, "new": {"personalization": False}}),
    ]
    assert [r["seq"] for r in records(client, target="u2")] == [4]  # seq 1: the admin key registered at start


def test_the_admin_key_from_the_environment_is_recorded_once(client, settings):
    (startup,) = records(client, startup=True)
    assert (startup["actor"], startup["action"], startup["target"]) == ("server", "keys.create", ADMIN)
    assert startup["summary"] == {"name": "TASTEMAKER_ADMIN_KEY", "scopes": ["admin"], "from": "TASTEMAKER_ADMIN_KEY"}
    assert startup["address"].startswith("server@")
    build_app(client.app.state.engine, close_engine=False)  # another start on the same data dir: already registered
    assert len(records(client, startup=True)) == 1


def test_deleting_a_user_document_records_the_consent_it_held(client):
    assert client.put("/v1/users/u1", json={"consent": {"personalization": False}}).status_code == 200
    assert client.put("/v1/users/u2", json={"traits": {"a": 1}}).status_code == 200
    assert client.delete("/v1/users/u1").status_code == 204 and client.delete("/v1/users/u2").status_code == 204
    got = [(r["target"], r["summary"]) for r in records(client, action="consent.change", order="asc")]
    assert got == [("u1", {"old": {}, "new": {"personalization": False}}),
                   ("u1", {"old": {"personalization": False}, "new": {}})]


def test_an_invalid_consent_write_records_nothing(client):
    assert_problem(client.put("/v1/users/u1", json={"consent": {"personalization": "yes"}}), 422)
    assert records(client) == []


def test_pages_follow_the_cursor_both_ways(client):
    for i in range(5):
        client.post("/v1/keys", json={"name": f"k{i}", "scopes": ["read"]})
    # seq 1 is the server registering TASTEMAKER_ADMIN_KEY at start; k0..k4 are seqs 2..6
    r = client.get("/v1/audit", params={"limit": 2}).json()
    assert [x["summary"]["name"] for x in r["records"]] == ["k4", "k3"] and r["next_cursor"] == "5"
    r = client.get("/v1/audit", params={"limit": 2, "cursor": r["next_cursor"]}).json()
    assert [x["summary"]["name"] for x in r["records"]] == ["k2", "k1"]
    r = client.get("/v1/audit", params={"limit": 2, "cursor": r["next_cursor"]}).json()
    assert [x["summary"]["name"] for x in r["records"]] == ["k0", "TASTEMAKER_ADMIN_KEY"]
    r = client.get("/v1/audit", params={"limit": 2, "cursor": r["next_cursor"]}).json()
    assert r["records"] == [] and r["next_cursor"] is None
    r = client.get("/v1/audit", params={"limit": 3, "order": "asc"}).json()
    assert [x["seq"] for x in r["records"]] == [1, 2, 3] and r["next_cursor"] == "3"
    assert [x["seq"] for x in records(client, order="asc", cursor="3")] == [4, 5, 6]
    assert len(records(client, action="keys.")) == 5 and records(client, action="placements.") == []


@pytest.mark.parametrize("params, field", [({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "x"}, "limit"),
                                           ({"cursor": "-1"}, "cursor"), ({"order": "up"}, "order"),
                                           ({"actoin": "keys."}, "actoin"), ({"target": ""}, "target")])
def test_a_bad_query_is_400_naming_the_parameter(client, params, field):
    assert_problem(client.get("/v1/audit", params=params), 400, field)


def test_only_admin_keys_read_the_trail(client):
    token = client.post("/v1/keys", json={"name": "r", "scopes": ["read", "ingest"]}).json()["token"]
    body = assert_problem(TestClient(client.app).get("/v1/audit", headers={"Authorization": f"Bearer {token}"}), 403)
    assert "admin" in body["detail"]
