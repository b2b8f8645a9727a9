"""``/v1/segments`` over HTTP: definitions, validation with positions, membership seen by the
very next request, segments in rules and in experiments' populations."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_problem, rec_ids, recommend

VIP = {"name": "vip", "expression": "events.purchase >= 2", "description": "two purchases"}


def purchase(client, user: str, n: int, item: str = "i01") -> None:
    r = client.post("/v1/events", json={"id": f"{user}-p{n}", "type": "purchase", "user_id": user, "item_id": item,
                                        "value": 20.0})
    assert r.status_code == 200, r.text


def segments_of(client, user: str) -> list[str]:
    r = client.get(f"/v1/users/{user}")
    assert r.status_code == 200, r.text
    return r.json()["activity"]["segments"]


def test_define_read_replace_delete(client):
    r = client.post("/v1/segments", json=VIP)
    assert r.status_code == 201 and r.headers["location"] == "/v1/segments/vip"
    assert {k: r.json()[k] for k in ("name", "expression", "description", "version")} == {**VIP, "version": 1}
    assert assert_problem(client.post("/v1/segments", json=VIP), 409, "name")
    listed = client.get("/v1/segments").json()
    assert [s["name"] for s in listed["segments"]] == ["vip"] and "at_risk_predicted" in listed["builtin"]
    r = client.put("/v1/segments/vip", json={"expression": "events.purchase >= 3"})
    assert (r.status_code, r.json()["version"], r.json()["description"]) == (200, 2, "")
    assert client.get("/v1/segments/vip").json()["expression"] == "events.purchase >= 3"
    assert client.put("/v1/segments/gold", json={"expression": "user.revenue > 100"}).status_code == 201
    assert client.delete("/v1/segments/vip").status_code == 204
    assert_problem(client.get("/v1/segments/vip"), 404, "name")
    assert_problem(client.delete("/v1/segments/vip"), 404, "name")
    assert_problem(client.get("/v1/segments/Not A Name"), 400, "name")


@pytest.mark.parametrize("body, field, fragment", [
    ({"name": "x", "expression": "events.purchase >="}, "expression", "at position 18"),
    ({"name": "x", "expression": "user.orders > 1 and user.lifecycle > 2"}, "expression", "at position 20"),
    ({"name": "x", "expression": "price > 10"}, "expression", "unknown name 'price'"),
    ({"name": "x", "expression": "user.orders = 2"}, "expression", "use '=='"),
    ({"name": "x"}, "expression", "required"),
    ({"name": "churned", "expression": "user.orders > 1"}, "name", "built-in"),
    ({"name": "-x", "expression": "user.orders > 1"}, "name", "segment name"),
    ({"name": "x", "expression": "user.orders > 1", "colour": "red"}, "colour", "unknown field"),
    ({"expression": "user.orders > 1"}, "name", "required"),
])
def test_invalid_definitions_are_refused_whole_naming_the_problem(client, body, field, fragment):
    problem = assert_problem(client.post("/v1/segments", json=body), 422, field)
    assert fragment in str(problem)
    assert client.get("/v1/segments").json()["segments"] == []  # nothing half-written


def test_writes_need_the_admin_role(client):
    key = client.post("/v1/keys", json={"name": "shop", "scopes": ["read", "ingest"]}).json()["token"]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/segments", json=VIP, headers=headers).status_code == 403
    assert client.get("/v1/segments", headers=headers).status_code == 200


def test_membership_changes_with_the_event_that_causes_it(seeded):
    """Every trial: the request right after the second purchase sees the user in the segment,
    the one right after the first does not (100% of 30 trials)."""
    client = seeded
    assert client.post("/v1/segments", json=VIP).status_code == 201
    seen = []
    for t in range(30):
        user = f"shopper-{t}"
        item = f"i{t:02d}"  # a different item per trial: not a coordinated burst on one item (quarantine)
        purchase(client, user, 1, item)
        before = "vip" in segments_of(client, user)
        purchase(client, user, 2, item)
        seen.append((before, "vip" in segments_of(client, user)))
    assert seen == [(False, True)] * 30


def test_traits_and_a_new_definition_apply_to_the_next_request(seeded):
    client = seeded
    purchase(client, "ana", 1)
    assert client.put("/v1/segments/gold", json={"expression": "traits.tier == 'gold'"}).status_code == 201
    assert "gold" not in segments_of(client, "ana")
    assert client.put("/v1/users/ana", json={"id": "ana", "traits": {"tier": "gold"}}).status_code in (200, 201)
    assert "gold" in segments_of(client, "ana")
    assert client.put("/v1/segments/gold", json={"expression": "traits.tier == 'silver'"}).status_code == 200
    assert "gold" not in segments_of(client, "ana")


def test_user_profile_shows_lifecycle_rfm_and_predictions(seeded):
    client = seeded
    purchase(client, "ana", 1)
    activity = client.get("/v1/users/ana").json()["activity"]
    assert activity["lifecycle"] == "new" and activity["segments"][:2] == ["new", "buyer"]
    assert set(activity["rfm"]) == {"recency", "frequency", "monetary"}
    assert all(1 <= v <= 5 for v in activity["rfm"].values())
    assert "churn_probability" in activity and "clv" in activity


def test_a_rule_reads_user_segments(seeded):
    """A placement rule on ``user.segments``: VIPs see only items from 25 up."""
    client = seeded
    client.post("/v1/segments", json=VIP)
    rule = {"where": 'not ("vip" in user.segments) or price >= 25'}
    assert client.put("/v1/placements/vip-home", json={"sources": {"popular": 1.0}, "rules": [rule]}).status_code == 201
    purchase(client, "ana", 1, "i39")
    prices = lambda: [10.0 + int(i[1:]) for i in rec_ids(client, "ana", placement="vip-home", n=20)]  # noqa: E731
    assert min(prices()) < 25
    purchase(client, "ana", 2, "i38")
    assert prices() and min(prices()) >= 25


def test_an_experiment_targets_a_segment(seeded):
    client = seeded
    client.post("/v1/segments", json=VIP)
    experiment = {"id": "vip-test", "placements": ["home"], "status": "running", "population": {"segments": ["vip"]},
                  "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    assert client.post("/v1/experiments", json=experiment).status_code == 201
    purchase(client, "ana", 1)
    assert "experiments" not in recommend(client, "ana", placement="home")
    purchase(client, "ana", 2)
    assert [x["id"] for x in recommend(client, "ana", placement="home")["experiments"]] == ["vip-test"]


def test_a_segment_over_a_streaming_feature(seeded):
    """``features.NAME`` reads the feature registry (features.stream) as of the latest event."""
    client = seeded
    assert client.put("/v1/segments/browsing", json={"expression": "features.user_views_1h >= 3"}).status_code == 201
    seen = []
    for k in range(3):
        r = client.post("/v1/events", json={"id": f"fv{k}", "type": "view", "user_id": "fay", "item_id": f"i{k + 10}"})
        assert r.status_code == 200
        seen.append("browsing" in segments_of(client, "fay"))
    assert seen == [False, False, True]
