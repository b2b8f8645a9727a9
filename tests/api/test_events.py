"""POST /v1/events: single and batch ingest, idempotency, all-or-nothing validation."""

from __future__ import annotations

import json

import pytest

from .helpers import assert_problem, log_seq


def ev(i, user="u1", item="i1", type_="view", **extra):
    return {"id": f"e{i}", "type": type_, "user_id": user, "item_id": item, **extra}


def event_count(client, user):
    r = client.get(f"/v1/users/{user}")
    assert r.status_code == 200, r.text
    return r.json()["activity"]["event_count"]


def test_single_event_is_accepted_then_duplicate(client):
    r = client.post("/v1/events", json=ev(1))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"accepted": 1, "duplicates": 0}
    r = client.post("/v1/events", json=ev(1))
    assert r.json() == {"accepted": 0, "duplicates": 1}
    assert log_seq(client) == 1
    assert event_count(client, "u1") == 1


def test_batch_counts_and_resent_batch_is_all_duplicates(client):
    batch = [ev(i, user="u1" if i % 2 else "u2", item=f"i{i}") for i in range(10)]
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 200
    assert r.json() == {"accepted": 10, "duplicates": 0}
    before = (event_count(client, "u1"), event_count(client, "u2"))
    assert before == (5, 5)
    r = client.post("/v1/events", json=batch)
    assert r.json() == {"accepted": 0, "duplicates": 10}
    # state not applied twice
    assert (event_count(client, "u1"), event_count(client, "u2")) == before
    assert log_seq(client) == 10
    profile = client.get("/v1/users/u1").json()["activity"]
    assert profile["event_types"] == {"view": 5}


def test_partially_duplicate_batch_and_repeats_inside_a_batch(client):
    client.post("/v1/events", json=[ev(i) for i in range(3)])
    r = client.post("/v1/events", json=[ev(i) for i in range(5)])
    assert r.json() == {"accepted": 2, "duplicates": 3}
    r = client.post("/v1/events", json=[ev(9), ev(9), ev(9)])
    assert r.json() == {"accepted": 1, "duplicates": 2}
    assert log_seq(client) == 6
    assert event_count(client, "u1") == 6


def test_batch_of_10000_is_accepted_and_10001_is_too_large(client):
    batch = [{"id": f"b{i}", "type": "view", "user_id": f"u{i % 50}", "item_id": f"i{i % 300}"} for i in range(10_001)]
    r = client.post("/v1/events", json=batch)
    body = assert_problem(r, 413)
    assert "10000" in body["detail"].replace(",", "")
    assert log_seq(client) == 0
    r = client.post("/v1/events", json=batch[:10_000])
    assert r.status_code == 200
    assert r.json() == {"accepted": 10_000, "duplicates": 0}
    assert log_seq(client) == 10_000


@pytest.mark.parametrize("body", [b'[{"id": "x", "type": "view"', b"{not json}", b"[1, 2", b'{"id": "x",}'])
def test_malformed_json_is_400(client, body):
    r = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    problem = assert_problem(r, 400)
    assert "field" in problem and problem["errors"]
    assert log_seq(client) == 0


@pytest.mark.parametrize("body", [b"", b"   ", b"[]"])
def test_empty_body_or_batch_is_refused(client, body):
    r = client.post("/v1/events", content=body)
    assert r.status_code in (400, 422)
    assert_problem(r, r.status_code)
    assert log_seq(client) == 0


def test_invalid_field_names_json_pointer_and_nothing_is_written(client):
    client.post("/v1/events", json=ev(0, user="known"))
    batch = [
        ev(1, user="fresh-user"),
        ev(2, user="known"),
        {"id": "e3", "type": "rating", "user_id": "known", "item_id": "i1", "value": "five"},
        ev(4, user="known"),
    ]
    r = client.post("/v1/events", json=batch)
    assert_problem(r, 422, field="/2/value")
    assert log_seq(client) == 1
    assert event_count(client, "known") == 1
    # the valid event of the same batch was not applied: its user does not exist
    assert client.get("/v1/users/fresh-user").status_code == 404
    # the batch's ids were not consumed: resending it fixed is all new
    batch[2]["value"] = 5
    assert client.post("/v1/events", json=batch).json() == {"accepted": 4, "duplicates": 0}


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"id": "x", "type": "view", "user_id": "u", "item_id": "i", "colour": "red"}, "/1/colour"),
        ({"id": "x", "type": "view", "user_id": "u"}, "/1/item_id"),
        ({"id": "x", "type": "rating", "user_id": "u", "item_id": "i"}, "/1/value"),
        ({"id": "x", "type": "search", "user_id": "u"}, "/1/query"),
        ({"type": "view", "user_id": "u", "item_id": "i"}, "/1"),
        ({"id": "", "type": "view", "user_id": "u", "item_id": "i"}, "/1/id"),
        ({"id": "x", "type": "view", "user_id": 7, "item_id": "i"}, "/1/user_id"),
        ({"id": "x", "type": "View!", "user_id": "u", "item_id": "i"}, "/1/type"),
        ({"id": "x", "type": "view", "user_id": "u", "item_id": "i", "timestamp": "yesterday-ish"}, "/1/timestamp"),
        ({"id": "x", "type": "view", "user_id": "u", "item_id": "i", "timestamp": 4102444800}, "/1/timestamp"),
        ({"id": "x", "type": "view", "user_id": "u", "item_id": "i", "context": "web"}, "/1/context"),
        ({"id": "x", "type": "view", "user_id": "u", "item_ids": "i"}, "/1/item_ids"),
    ],
)
def test_invalid_events_name_their_field(client, bad, field):
    r = client.post("/v1/events", json=[ev(0), bad])
    body = assert_problem(r, 422)
    assert body["field"] == field or (field == "/1" and body["field"].startswith("/1")), body
    assert log_seq(client) == 0


def test_single_invalid_event_pointer_has_no_index(client):
    r = client.post("/v1/events", json={"id": "x", "type": "rating", "user_id": "u", "item_id": "i", "value": "a"})
    assert_problem(r, 422, field="/value")


def test_every_error_of_a_batch_is_listed(client):
    batch = [ev(0), {"id": "a", "type": "rating", "user_id": "u", "item_id": "i"},
             {"id": "b", "type": "search", "user_id": "u"}]
    body = assert_problem(client.post("/v1/events", json=batch), 422)
    assert {e["field"] for e in body["errors"]} == {"/1/value", "/2/query"}


def test_unknown_event_type_is_422(client):
    r = client.post("/v1/events", json=[ev(0), ev(1, type_="teleport")])
    body = assert_problem(r, 422, field="/1/type")
    assert "teleport" in body["detail"]
    assert log_seq(client) == 0


def test_custom_type_is_accepted_after_registering_its_schema(client):
    event = {"id": "w1", "type": "wishlist", "user_id": "u", "item_id": "i1", "properties": {"list": "xmas"}}
    assert_problem(client.post("/v1/events", json=event), 422, field="/type")
    schema = {"type": "wishlist", "version": 1, "requires": ["item"], "properties": {"list": {"type": "string", "required": True}}}
    r = client.post("/v1/event-schemas", json=schema)
    assert r.status_code == 201, r.text
    assert client.post("/v1/events", json=event).json() == {"accepted": 1, "duplicates": 0}
    # the registered schema is enforced
    bad = {"id": "w2", "type": "wishlist", "user_id": "u", "item_id": "i1", "properties": {"list": 3}}
    assert_problem(client.post("/v1/events", json=bad), 422, field="/properties/list")
    missing = {"id": "w3", "type": "wishlist", "user_id": "u", "properties": {"list": "a"}}
    assert_problem(client.post("/v1/events", json=missing), 422, field="/item_id")
    assert event_count(client, "u") == 1
    assert client.get("/v1/users/u").json()["activity"]["event_types"] == {"wishlist": 1}


def test_incompatible_schema_version_is_409_naming_the_reason(client):
    v1 = {"type": "wishlist", "version": 1, "requires": ["item"], "properties": {"list": {"type": "string"}}}
    assert client.post("/v1/event-schemas", json=v1).status_code == 201
    newly_required = {**v1, "version": 2, "requires": ["item", "value"]}
    body = assert_problem(client.post("/v1/event-schemas", json=newly_required), 409, field="/requires")
    assert "value" in body["errors"][0]["reason"]
    type_change = {**v1, "version": 2, "properties": {"list": {"type": "integer"}}}
    body = assert_problem(client.post("/v1/event-schemas", json=type_change), 409, field="/properties/list")
    assert "integer" in body["detail"]
    skipped = {**v1, "version": 3}
    assert_problem(client.post("/v1/event-schemas", json=skipped), 409, field="/version")
    # a compatible version is accepted, and events under v1 stay valid
    v2 = {**v1, "version": 2, "properties": {"list": {"type": "string"}, "note": {"type": "string"}}}
    assert client.post("/v1/event-schemas", json=v2).status_code == 201
    old = {"id": "w1", "type": "wishlist", "user_id": "u", "item_id": "i", "schema_version": 1}
    assert client.post("/v1/events", json=old).json() == {"accepted": 1, "duplicates": 0}
    assert_problem(client.post("/v1/events", json={**old, "id": "w2", "schema_version": 7}), 422, field="/schema_version")


def test_timestamps_iso_and_epoch_and_history(client):
    batch = [
        ev(1, timestamp="2020-01-02T03:04:05Z"),
        ev(2, timestamp=1577934245),
        ev(3, timestamp=1577934245.5),
    ]
    assert client.post("/v1/events", json=batch).json() == {"accepted": 3, "duplicates": 0}
    activity = client.get("/v1/users/u1").json()["activity"]
    assert activity["first_seen"] == pytest.approx(1577934245.0)
    assert activity["last_seen"] == pytest.approx(1577934245.5)


def test_item_ids_event_and_context(client):
    event = {"id": "p1", "type": "purchase", "user_id": "u", "item_ids": ["a", "b"], "value": 3,
             "context": {"device": "mobile", "geo": "DE"}, "session_id": "s1", "recommendation_id": "r1"}
    assert client.post("/v1/events", json=event).json() == {"accepted": 1, "duplicates": 0}
    activity = client.get("/v1/users/u").json()["activity"]
    assert activity["purchased"] == ["a", "b"]
    assert activity["session"]["id"] == "s1"


def test_events_body_as_raw_bytes_matches_json(client):
    body = json.dumps([ev(1), ev(2)]).encode()
    r = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert r.json() == {"accepted": 2, "duplicates": 0}


# -- errors that say how to fix them; bad input refused whole (issue 11) ---------------


def test_misspelt_type_lists_the_known_types_and_the_closest(client):
    r = client.post("/v1/events", json=[ev(1), ev(2, type_="veiw")])
    body = assert_problem(r, 422, "/1/type")
    reason = body["errors"][0]["reason"]
    assert "did you mean 'view'?" in reason and "add_to_cart" in reason and "POST /v1/event-schemas" in reason
    assert log_seq(client) == 0


def test_mis_cased_type_gets_a_case_hint(client):
    body = assert_problem(client.post("/v1/events", json=ev(1, type_="View")), 422, "/type")
    assert body["errors"][0]["reason"].startswith("event types are lower case: did you mean 'view'?")
    assert "^[a-z]" not in body["detail"]


@pytest.mark.parametrize("value", [11, -1, 5.01])
def test_rating_outside_the_scale_is_refused(client, value):
    body = assert_problem(client.post("/v1/events", json=[ev(1), ev(2, type_="rating", value=value)]), 422, "/1/value")
    assert "'rating' values range from 0 to 5" in body["errors"][0]["reason"]
    assert log_seq(client) == 0


def test_rating_scale_from_the_environment(monkeypatch, settings):
    from starlette.testclient import TestClient

    from tastemaker.api.app import build_app
    from tastemaker.config import Settings
    from tastemaker.engine import Engine

    monkeypatch.setenv("TASTEMAKER_RATING_SCALE", "1,10")
    ten = Settings(data_dir=settings.data_dir, admin_key=settings.admin_key, durable=False)
    assert ten.rating_scale == (1.0, 10.0)
    with TestClient(build_app(Engine(ten)), headers={"Authorization": f"Bearer {settings.admin_key}"}) as c:
        assert c.post("/v1/events", json=ev(1, type_="rating", value=10)).status_code == 200
        body = assert_problem(c.post("/v1/events", json=ev(2, type_="rating", value=0.5)), 422, "/value")
        assert "from 1 to 10" in body["detail"]


@pytest.mark.parametrize("value", ["1e308", "-1e300", "1e13"])
def test_extreme_values_are_refused_for_every_type(client, value):
    for type_ in ("rating", "purchase", "view"):
        raw = f'{{"id":"x-{type_}","type":"{type_}","user_id":"u","item_id":"i","value":{value}}}'.encode()
        assert_problem(client.post("/v1/events", content=raw), 422, "/value")
    assert log_seq(client) == 0


def test_a_number_a_float_cannot_hold_is_refused(client):
    raw = b'{"id":"x","type":"purchase","user_id":"u","item_id":"i","value":1e400}'
    body = assert_problem(client.post("/v1/events", content=raw), 422)
    assert "too large for a 64-bit float" in body["detail"]  # msgspec does not say where
    assert log_seq(client) == 0


def test_malformed_json_says_line_and_column(client):
    raw = b'[\n  {"id": "a", "type": "view",\n   "user_id": u1}\n]'
    body = assert_problem(client.post("/v1/events", content=raw), 400)
    assert body["detail"].startswith("/: malformed JSON at line 3, column 15 (byte 46): invalid character")
    assert "JSON is malformed" not in body["detail"]


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_dropped_connection(client, depth):
    raw = b'{"id":"e","type":"view","user_id":"u","item_id":"i","context":{"a":' + b"[" * depth + b"]" * depth + b"}}"
    body = assert_problem(client.post("/v1/events", content=raw), 400)
    assert body["title"] == "JSON nested too deeply"
    assert "nested more than 32 levels" in body["detail"]
    assert log_seq(client) == 0
    assert client.post("/v1/events", json=ev(1)).status_code == 200  # the server is fine


def test_oversized_body_is_refused_before_it_is_decoded(client):
    # Not JSON at all: a 400 would mean it was decoded; the cap answers first.
    cap = client.app.state.engine.settings.max_events_body_bytes
    assert cap == 16 * 2**20
    r = client.post("/v1/events", content=b"[" + b"x" * cap)
    body = assert_problem(r, 413)
    assert "exceeds 16777216 bytes (16 MiB)" in body["detail"]


def test_oversized_streamed_body_without_length_is_refused(client):
    cap = client.app.state.engine.settings.max_events_body_bytes

    def chunks():
        for _ in range(cap // 2**20 + 2):
            yield b"x" * 2**20

    r = client.post("/v1/events", content=chunks())
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)
    assert log_seq(client) == 0


@pytest.mark.parametrize("field", ["properties", "context"])
def test_ten_megabyte_strings_are_refused_naming_the_field(client, field):
    r = client.post("/v1/events", json=[ev(1), ev(2, **{field: {"blob": "x" * 10_000_000}})])
    body = assert_problem(r, 422, f"/1/{field}/blob")
    assert "at most 65536 bytes" in body["detail"]
    assert log_seq(client) == 0


def test_a_record_over_a_megabyte_of_free_form_json_is_413(client):
    props = {f"p{k}": "y" * 60_000 for k in range(20)}  # each string fine, 1.2 MB together
    body = assert_problem(client.post("/v1/events", json=ev(1, properties=props)), 413, "/properties")
    assert "at most 1048576 bytes per record" in body["detail"]
    assert log_seq(client) == 0
