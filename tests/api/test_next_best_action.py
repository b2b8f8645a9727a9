"""Next-best-action placements over HTTP: the action of highest expected value, its constraints."""

from __future__ import annotations

from tests.api.helpers import recommend

RETENTION = {
    "sources": {"popular": 1.0},
    "next_best_action": {
        "actions": [
            {"name": "winback", "kind": "offer", "when": "events.purchase >= 1", "p": "0.5",
             "value": "traits.basket", "cost": 2.0, "margin": 0.3, "payload": {"code": "WB10"}},
            {"name": "deep-discount", "kind": "offer", "p": "0.9", "value": "1000", "margin": 0.05},
            {"name": "browse", "kind": "recommend", "p": "0.1", "value": "20"},
            {"name": "newsletter", "kind": "message", "p": "0.01", "value": "100", "cost": 0.5},
        ],
        "constraints": {"max_offers_per_day": 1, "margin_floor": 0.1},
    },
}


def test_the_action_of_highest_expected_value_within_constraints(seeded):
    client = seeded
    assert client.put("/v1/placements/retention", json=RETENTION).status_code == 201
    assert client.put("/v1/users/ana", json={"id": "ana", "traits": {"basket": 60}}).status_code in (200, 201)
    client.post("/v1/events", json={"id": "v1", "type": "view", "user_id": "ana", "item_id": "i01"})
    # not a buyer yet: the offer is not eligible, the deep discount is under the margin floor
    body = recommend(client, "ana", placement="retention", explain="true")
    assert body["action"] == {"name": "browse", "kind": "recommend", "expected_value": 2.0, "payload": {}}
    assert body["items"]  # a recommend action carries the placement's list
    blocked = {a["name"]: a["blocked_by"] for a in body["actions"]}
    assert blocked == {"winback": "when", "deep-discount": "margin_floor", "browse": None, "newsletter": None,
                       "nothing": None}
    client.post("/v1/events", json={"id": "p1", "type": "purchase", "user_id": "ana", "item_id": "i01", "value": 20})
    body = recommend(client, "ana", placement="retention")
    assert body["action"] == {"name": "winback", "kind": "offer", "expected_value": 28.0, "payload": {"code": "WB10"}}
    assert body["items"] == []
    # one offer a day: the very next request gets the next best thing
    assert recommend(client, "ana", placement="retention")["action"]["name"] == "browse"


def test_nothing_when_nothing_pays(client):
    doc = {"sources": {"popular": 1.0}, "next_best_action": {
        "actions": [{"name": "sms", "kind": "message", "p": "0.001", "value": "10", "cost": 0.2}]}}
    assert client.put("/v1/placements/quiet", json=doc).status_code == 201
    body = recommend(client, "bob", placement="quiet")
    assert body["action"]["name"] == "nothing" and body["items"] == []


def test_a_broken_action_refuses_the_placement_naming_the_position(client):
    doc = {"sources": {"popular": 1.0}, "next_best_action": {
        "actions": [{"name": "x", "kind": "offer", "p": "0.1 *", "value": "10"}, {"name": "y", "kind": "gift"}]}}
    r = client.put("/v1/placements/bad", json=doc)
    assert r.status_code == 422
    fields = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert fields["/next_best_action/actions/0/p"].startswith("unexpected end of expression at position 5")
    assert fields["/next_best_action/actions/1/kind"] == "must be one of: recommend, offer, message, nothing"
    assert client.get("/v1/placements/bad").status_code == 404
