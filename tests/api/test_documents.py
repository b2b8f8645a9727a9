"""Items and users: batch upsert, GET, PUT, PATCH (merge patch), DELETE; all-or-nothing writes."""

from __future__ import annotations

import pytest

from tastemaker.api.documents import merge_patch

from .helpers import assert_problem, rec_ids

ITEM = {"id": "sku-1", "title": "Shoe", "categories": ["shoes", "sale"], "brand": "acme", "price": 49.5,
        "margin": 0.3, "stock": 3, "tags": ["red"], "properties": {"color": "red", "size": {"eu": 42}}}


def test_item_batch_upsert_and_get(client):
    r = client.post("/v1/items", json=[ITEM, {"id": "sku-2", "title": "Sock"}])
    assert r.status_code == 200
    assert r.json()["upserted"] == 2
    got = client.get("/v1/items/sku-1")
    assert got.status_code == 200
    assert got.json() == ITEM
    assert client.get("/v1/items/sku-2").json() == {"id": "sku-2", "title": "Sock"}
    # upsert replaces
    client.post("/v1/items", json=[{"id": "sku-2", "title": "Socks", "price": 3}])
    assert client.get("/v1/items/sku-2").json() == {"id": "sku-2", "title": "Socks", "price": 3.0}
    assert client.get("/readyz").json()["items"] == 2


def test_single_item_object_is_upserted(client):
    r = client.post("/v1/items", json={"id": "solo", "price": 1})
    assert r.status_code == 200 and r.json()["upserted"] == 1
    assert client.get("/v1/items/solo").json()["price"] == 1.0
    assert_problem(client.post("/v1/items", json={"id": "solo", "price": -1}), 422, field="/price")


def test_item_created_at_is_normalised_to_epoch(client):
    client.post("/v1/items", json=[{"id": "a", "created_at": "2021-01-01T00:00:00Z"}])
    assert client.get("/v1/items/a").json()["created_at"] == pytest.approx(1609459200.0)
    assert_problem(client.post("/v1/items", json=[{"id": "b", "created_at": "not a date"}]), 422, field="/0/created_at")


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"id": "x", "price": -1}, "/1/price"),
        ({"id": "x", "stock": -1}, "/1/stock"),
        ({"id": "x", "stock": 1.5}, "/1/stock"),
        ({"id": "x", "colour": "red"}, "/1/colour"),
        ({"id": "x", "categories": "shoes"}, "/1/categories"),
        ({"id": "x", "properties": []}, "/1/properties"),
        ({"id": ""}, "/1/id"),
        ({"title": "no id"}, "/1/id"),
        ({"id": "ok"}, "/1/id"),  # the same id twice in one batch
    ],
)
def test_invalid_item_names_field_and_writes_nothing(client, bad, field):
    r = client.post("/v1/items", json=[{"id": "ok", "title": "valid"}, bad])
    body = assert_problem(r, 422)
    assert body["field"] == field, body
    assert client.get("/v1/items/ok").status_code == 404
    assert client.get("/v1/items/x").status_code == 404
    assert client.get("/readyz").json()["items"] == 0


def test_items_malformed_json_is_400(client):
    assert_problem(client.post("/v1/items", content=b'[{"id": "a"'), 400)
    assert_problem(client.post("/v1/items", content=b'[{"id": 1'), 400)


def test_get_unknown_item_is_404_problem(client):
    body = assert_problem(client.get("/v1/items/nope"), 404, field="id")
    assert "nope" in body["detail"]


def test_put_replaces_and_creates(client):
    client.post("/v1/items", json=[ITEM])
    r = client.put("/v1/items/sku-1", json={"title": "New shoe", "stock": 1})
    assert r.status_code == 200
    assert r.json() == {"id": "sku-1", "title": "New shoe", "stock": 1}
    assert client.get("/v1/items/sku-1").json() == {"id": "sku-1", "title": "New shoe", "stock": 1}
    r = client.put("/v1/items/brand-new", json={"id": "brand-new", "price": 2})
    assert r.status_code == 200
    assert client.get("/v1/items/brand-new").json() == {"id": "brand-new", "price": 2.0}


def test_put_id_mismatch_is_422(client):
    client.post("/v1/items", json=[ITEM])
    assert_problem(client.put("/v1/items/sku-1", json={"id": "other", "title": "x"}), 422, field="/id")
    assert client.get("/v1/items/sku-1").json() == ITEM
    assert client.get("/v1/items/other").status_code == 404


def test_put_invalid_writes_nothing(client):
    client.post("/v1/items", json=[ITEM])
    assert_problem(client.put("/v1/items/sku-1", json={"price": -5}), 422, field="/price")
    assert_problem(client.put("/v1/items/sku-1", json={"stock": -1}), 422, field="/stock")
    assert_problem(client.put("/v1/items/sku-1", json={"nope": 1}), 422, field="/nope")
    assert_problem(client.put("/v1/items/sku-1", content=b"{"), 400)
    assert client.get("/v1/items/sku-1").json() == ITEM


def test_patch_is_json_merge_patch(client):
    client.post("/v1/items", json=[ITEM])
    r = client.patch("/v1/items/sku-1", json={"brand": None, "price": 39.0, "properties": {"size": {"us": 9}, "color": None}})
    assert r.status_code == 200
    expected = {k: v for k, v in ITEM.items() if k != "brand"}
    expected.update(price=39.0, properties={"size": {"eu": 42, "us": 9}})
    assert r.json() == expected
    assert client.get("/v1/items/sku-1").json() == expected
    # merge-patch content type is accepted as well
    r = client.patch("/v1/items/sku-1", content=b'{"tags": ["blue"]}', headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["tags"] == ["blue"]


def test_patch_errors(client):
    client.post("/v1/items", json=[ITEM])
    assert_problem(client.patch("/v1/items/missing", json={"price": 1}), 404, field="id")
    assert_problem(client.patch("/v1/items/sku-1", json={"price": -1}), 422, field="/price")
    assert_problem(client.patch("/v1/items/sku-1", json={"id": "other"}), 422, field="/id")
    assert_problem(client.patch("/v1/items/sku-1", json={"unknown_field": 1}), 422, field="/unknown_field")
    assert client.get("/v1/items/sku-1").json() == ITEM


def test_delete_item(client):
    client.post("/v1/items", json=[ITEM, {"id": "sku-2"}])
    r = client.delete("/v1/items/sku-1")
    assert r.status_code == 204 and r.content == b""
    assert_problem(client.get("/v1/items/sku-1"), 404, field="id")
    assert_problem(client.delete("/v1/items/sku-1"), 404, field="id")
    assert client.get("/readyz").json()["items"] == 1


def test_deleted_item_is_no_longer_recommended(seeded):
    everyone = set(rec_ids(seeded, "nobody", n=100))
    assert "i05" in everyone
    assert "i05" in {i["id"] for i in seeded.get("/v1/items/i04/similar", params={"n": 5}).json()["items"]}
    seeded.post("/v1/events", json={"id": "x1", "type": "view", "user_id": "fan", "item_id": "i04"})
    assert "i05" in rec_ids(seeded, "fan", n=5)
    assert seeded.delete("/v1/items/i05").status_code == 204
    assert "i05" not in rec_ids(seeded, "nobody", n=100)
    assert "i05" not in rec_ids(seeded, "fan", n=100)
    assert "i05" not in {i["id"] for i in seeded.get("/v1/items/i04/similar", params={"n": 30}).json()["items"]}
    # put back: recommendable again
    seeded.put("/v1/items/i05", json={"categories": ["c1"]})
    assert "i05" in rec_ids(seeded, "fan", n=5)


# -- users ------------------------------------------------------------------------------

USER = {"id": "alice", "traits": {"age": 31, "likes": ["jazz"]}, "consent": {"personalization": True, "email": False}}


def test_user_crud(client):
    r = client.post("/v1/users", json=[USER, {"id": "bob"}])
    assert r.status_code == 200 and r.json()["upserted"] == 2
    got = client.get("/v1/users/alice").json()
    assert {k: got[k] for k in ("id", "traits", "consent")} == USER
    assert got["activity"] is None  # no events yet
    r = client.patch("/v1/users/alice", json={"traits": {"age": None, "city": "Oslo"}, "consent": {"email": True}})
    assert r.status_code == 200
    assert r.json() == {"id": "alice", "traits": {"likes": ["jazz"], "city": "Oslo"}, "consent": {"personalization": True, "email": True}}
    r = client.put("/v1/users/alice", json={"traits": {"vip": True}})
    assert r.json() == {"id": "alice", "traits": {"vip": True}}
    assert_problem(client.put("/v1/users/alice", json={"id": "mallory"}), 422, field="/id")
    assert client.delete("/v1/users/alice").status_code == 204
    assert_problem(client.get("/v1/users/alice"), 404, field="id")
    assert client.get("/v1/users/bob").status_code == 200


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"id": "x", "consent": {"email": "yes"}}, "/1/consent"),
        ({"id": "x", "traits": "vip"}, "/1/traits"),
        ({"id": "x", "name": "X"}, "/1/name"),
    ],
)
def test_invalid_user_writes_nothing(client, bad, field):
    body = assert_problem(client.post("/v1/users", json=[USER, bad]), 422)
    assert body["field"].startswith(field), body
    assert client.get("/v1/users/alice").status_code == 404


def test_user_profile_has_live_activity(seeded):
    seeded.post("/v1/users", json=[USER])
    seeded.post("/v1/events", json=[
        {"id": "a1", "type": "view", "user_id": "alice", "item_id": "i00", "session_id": "s"},
        {"id": "a2", "type": "add_to_cart", "user_id": "alice", "item_id": "i01", "session_id": "s"},
        {"id": "a3", "type": "search", "user_id": "alice", "query": "boots", "session_id": "s"},
    ])
    body = seeded.get("/v1/users/alice").json()
    assert body["traits"] == USER["traits"]
    activity = body["activity"]
    assert activity["event_count"] == 3
    assert activity["event_types"] == {"view": 1, "add_to_cart": 1, "search": 1}
    assert [r["item_id"] for r in activity["recent"]] == ["i01", "i00"]
    assert activity["session"]["id"] == "s"
    assert activity["recent_queries"] == ["boots"]
    assert set(activity["category_affinity"]) == {"c0", "c1"}
    assert "cart_abandoner" in activity["segments"] and "new" in activity["segments"]
    # a user known only from events has a profile too
    anon = seeded.get("/v1/users/base-0-0").json()
    assert anon["id"] == "base-0-0" and anon["activity"]["event_count"] == 2


def test_merge_patch_unit():
    assert merge_patch({"a": 1, "b": {"c": 1}}, {"b": {"c": None, "d": 2}, "e": [1]}) == {"a": 1, "b": {"d": 2}, "e": [1]}
    assert merge_patch({"a": 1}, ["x"]) == ["x"]
    assert merge_patch("scalar", {"a": None, "b": 1}) == {"b": 1}


# -- bad input and what a write answers (issue 11) -------------------------------------


def key(client, *scopes: str) -> dict[str, str]:
    r = client.post("/v1/keys", json={"name": "-".join(scopes), "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.mark.parametrize("resource, doc", [("users", {"id": "u1", "traits": {"email": "a@example.com", "tier": "gold"}}),
                                           ("items", ITEM)])
def test_a_write_does_not_show_the_stored_document_to_a_key_that_cannot_read_it(client, resource, doc):
    assert client.post(f"/v1/{resource}", json=[doc]).status_code == 200
    ingest = key(client, "ingest")
    doc_id = doc["id"]
    assert_problem(client.get(f"/v1/{resource}/{doc_id}", headers=ingest), 403)
    for method, body in (("PATCH", {}), ("PATCH", {"properties" if resource == "items" else "traits": {"n": 1}}),
                         ("PUT", {k: v for k, v in doc.items() if k != "id"})):
        r = client.request(method, f"/v1/{resource}/{doc_id}", json=body, headers=ingest)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": doc_id, "written": True}, method
    # the writes held (the PUT restored the original); a key that may read sees the document
    both = key(client, "read", "ingest")
    r = client.patch(f"/v1/{resource}/{doc_id}", json={}, headers=both)
    assert r.status_code == 200 and r.json() == doc


@pytest.mark.parametrize("doc_id", ["team/alice", "50% off", "a b", "café/ü", "x/similar", "/lead", "trail/", "a%2Fb", "?q=1#f"])
@pytest.mark.parametrize("resource", ["items", "users"])
def test_ids_with_any_character_can_be_written_read_and_deleted(client, resource, doc_id):
    from urllib.parse import quote

    path = f"/v1/{resource}/{quote(doc_id, safe='')}"
    r = client.put(path, json={})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == doc_id
    got = client.get(path)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == doc_id
    patched = client.patch(path, json={"properties" if resource == "items" else "traits": {"k": "v"}})
    assert patched.status_code == 200 and patched.json()["id"] == doc_id
    store = getattr(client.app.state.engine.stores, resource)
    assert store.get(doc_id) is not None
    assert client.delete(path).status_code == 204
    assert store.get(doc_id) is None
    assert_problem(client.get(path), 404)


def test_an_item_with_a_slash_has_similar_items_and_similar_still_routes(seeded):
    from urllib.parse import quote

    assert seeded.post("/v1/items", json=[{"id": "i00/red", "categories": ["c0"]}]).status_code == 200
    r = seeded.get(f"/v1/items/{quote('i00/red', safe='')}/similar")
    assert r.status_code == 200, r.text
    r = seeded.get("/v1/items/i00/similar")
    assert r.status_code == 200 and "i01" in [i["id"] for i in r.json()["items"]]


def test_slash_ids_count_under_the_route_template_in_metrics(client):
    client.put("/v1/users/team%2Falice", json={})
    text = client.get("/metrics").text
    assert 'route="/v1/users/{id}",status="200"' in text
    assert "team" not in text


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deeply_nested_documents_are_a_400(client, method, depth):
    assert client.put("/v1/items/deep", json={"title": "kept"}).status_code == 200
    raw = b'{"properties":{"a":' + b"[" * depth + b"]" * depth + b"}}"
    body = assert_problem(client.request(method, "/v1/items/deep", content=raw), 400)
    assert body["title"] == "JSON nested too deeply"
    assert client.get("/v1/items/deep").json() == {"id": "deep", "title": "kept"}


def test_deeply_nested_batch_is_a_400(client):
    raw = b'[{"id":"d","properties":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}]"
    assert_problem(client.post("/v1/items", content=raw), 400)
    assert client.app.state.engine.stores.items.get("d") is None


@pytest.mark.parametrize("resource, field", [("users", "traits"), ("items", "properties")])
def test_ten_megabyte_strings_in_documents_are_refused(client, resource, field):
    big = {"id": "big", field: {"bio": "x" * 10_000_000}}
    body = assert_problem(client.post(f"/v1/{resource}", json=[big]), 422, f"/0/{field}/bio")
    assert "at most 65536 bytes" in body["detail"]
    # a single document has its own, lower body cap (2 MiB): refused before decoding
    assert_problem(client.put(f"/v1/{resource}/big", json={field: big[field]}), 413)
    assert getattr(client.app.state.engine.stores, resource).get("big") is None


def test_patch_cannot_grow_a_document_past_its_limits(client):
    assert client.put("/v1/users/grow", json={"traits": {f"t{k}": "x" * 60_000 for k in range(12)}}).status_code == 200
    before = client.get("/v1/users/grow").json()
    body = assert_problem(client.patch("/v1/users/grow", json={"traits": {f"n{k}": "y" * 60_000 for k in range(12)}}), 413)
    assert body["field"] == "/traits"
    assert client.get("/v1/users/grow").json()["traits"] == before["traits"]
