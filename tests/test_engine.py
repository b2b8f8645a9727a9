"""Engine: open/close, snapshots, replay of the log tail, several engines on one data dir."""

from __future__ import annotations

import asyncio
import pickle

import msgspec
import pytest

from tastemaker.config import Settings
from tastemaker.engine import Engine, UnknownItem, open_engine
from tastemaker.features.state import OnlineState
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Item
from tastemaker.schema.registry import EventSchema, SchemaConflict
from tastemaker.serving.request import parse_request
from tastemaker.storage.factory import open_stores

USERS = [f"u{i}" for i in range(12)]


def ingest(engine: Engine, events: list[dict]):
    return asyncio.run(engine.ingest.ingest(msgspec.json.encode(events)))


def events(start: int, count: int) -> list[dict]:
    out = []
    for k in range(start, start + count):
        user = USERS[k % len(USERS)]
        item = f"i{(k * 7 + k // len(USERS)) % 30}"
        kind = "purchase" if k % 11 == 0 else "view"
        out.append({"id": f"e{k}", "type": kind, "user_id": user, "item_id": item, "timestamp": 1_700_000_000 + k})
    return out


def add_items(engine: Engine, ids) -> None:
    engine.stores.items.upsert([Item(id=i, categories=[f"c{int(i[1:]) % 3}"], stock=5) for i in ids])
    engine.processor.sync_catalog()
    engine.toplists.clear()


def fingerprint(engine: Engine) -> dict:
    state = engine.state
    ids = state.index.ids
    engine.toplists.clear()  # global lists may lag by their TTL; compare exact values
    recs = {}
    for user in USERS + ["cold"]:
        body = engine.recommender.recommend(parse_request({"user_id": user, "n": "10"}))
        recs[user] = [(e["id"], e["source"], round(e["score"], 5)) for e in body["items"]]
    return {
        "applied_seq": state.applied_seq,
        "log_seq": engine.stores.events.last_seq(),
        "catalog": state.catalog.size(),
        "users": {u: (s.event_count, sorted(ids[i] for i in s.purchased), [ids[r.item] for r in s.recent])
                  for u, s in sorted(state.users.items())},
        "recs": recs,
    }


def snapshot(settings: Settings) -> OnlineState | None:
    """The online-state snapshot in the data dir's artifact store (None: none written)."""
    stores = open_stores(settings)
    try:
        return OnlineState.load(stores.artifacts, settings.snapshot_key)
    finally:
        stores.close()


@pytest.fixture
def settings(data_dir) -> Settings:
    return Settings(data_dir=data_dir, durable=False)


def test_open_and_close_an_empty_engine(settings):
    engine = Engine(settings)
    assert engine.stores.events.count() == 0
    assert engine.state.applied_seq == 0
    assert settings.db_path.exists()
    engine.close()
    assert snapshot(settings) is not None
    again = Engine(settings)
    assert again.state.applied_seq == 0
    again.close()


def test_ingest_validates_dedupes_and_applies(settings):
    engine = Engine(settings)
    try:
        result = ingest(engine, events(0, 20))
        assert (result.accepted, result.duplicates, result.last_seq) == (20, 0, 20)
        result = ingest(engine, events(10, 20))
        assert (result.accepted, result.duplicates) == (10, 10)
        assert engine.state.applied_seq == 30 == engine.stores.events.count()
        with pytest.raises(ValidationFailed) as info:
            ingest(engine, [{"id": "x", "type": "nope", "user_id": "u", "item_id": "i"}])
        assert info.value.errors[0].field == "/0/type"
        assert engine.stores.events.count() == 30
    finally:
        engine.close()


def test_state_is_restored_from_snapshot_plus_tail(settings):
    engine = Engine(settings)
    add_items(engine, [f"i{k}" for k in range(30)])
    ingest(engine, events(0, 120))
    engine.close()  # graceful: snapshot at seq 120
    snap = snapshot(settings)
    assert snap is not None and snap.applied_seq == 120

    engine = Engine(settings)
    assert engine.state.applied_seq == 120
    # a catalog change after the snapshot, too (before the tail: replay applies events
    # against the current catalog, so affinities of later events would differ otherwise)
    engine.stores.items.delete("i3")
    engine.processor.sync_catalog()
    ingest(engine, events(120, 80))
    expected = fingerprint(engine)
    engine.close(snapshot=False)  # a crash: the snapshot still says 120
    assert snapshot(settings).applied_seq == 120

    engine = Engine(settings)
    try:
        assert engine.state.applied_seq == 200
        got = fingerprint(engine)
        assert got == expected
        assert all("i3" not in [r[0] for r in recs] for recs in got["recs"].values())
    finally:
        engine.close()


def test_replay_without_any_snapshot_gives_the_same_state(settings):
    engine = Engine(settings)
    add_items(engine, [f"i{k}" for k in range(30)])
    ingest(engine, events(0, 150))
    expected = fingerprint(engine)
    engine.close(snapshot=False)
    assert snapshot(settings) is None
    engine = Engine(settings)
    try:
        assert fingerprint(engine) == expected
    finally:
        engine.close()


def test_periodic_snapshots(data_dir):
    settings = Settings(data_dir=data_dir, durable=False, snapshot_every_events=50)
    engine = Engine(settings)
    try:
        ingest(engine, events(0, 40))
        assert snapshot(settings) is None
        ingest(engine, events(40, 20))
        engine.processor.wait_for_snapshot()  # written in the background (a forked child, where available)
        assert snapshot(settings).applied_seq == 60
        ingest(engine, events(60, 20))  # not yet due again
        engine.processor.wait_for_snapshot()
        assert snapshot(settings).applied_seq == 60
    finally:
        engine.close(snapshot=False)


def test_snapshot_of_another_format_is_ignored(settings):
    engine = Engine(settings)
    ingest(engine, events(0, 30))
    expected = fingerprint(engine)
    engine.close()
    stores = open_stores(settings)
    _, state = pickle.loads(stores.artifacts.get(settings.snapshot_key))
    stores.artifacts.put(settings.snapshot_key, pickle.dumps((-1, state)))
    stores.close()
    engine = Engine(settings)
    try:
        assert fingerprint(engine) == expected
    finally:
        engine.close()


def test_two_engines_on_one_data_dir_see_each_other(settings):
    a, b = Engine(settings), Engine(settings)
    try:
        add_items(a, [f"i{k}" for k in range(30)])
        ingest(a, events(0, 25))
        assert b.state.applied_seq == 0
        b.catch_up()
        assert b.state.applied_seq == 25
        assert b.state.catalog.size() == 30
        ingest(b, events(25, 5))
        a.catch_up()
        assert fingerprint(a) == fingerprint(b)
        # an event appended by b while a had not caught up yet is applied in log order by a
        ingest(b, events(30, 3))
        ingest(a, events(33, 3))
        assert a.state.applied_seq == 36
        b.catch_up()
        assert fingerprint(a) == fingerprint(b)
        # a catalog-only change (no event) is seen too
        b.stores.items.delete("i1")
        a.catch_up()
        assert a.state.catalog.size() == 29
    finally:
        a.close(snapshot=False)
        b.close(snapshot=False)


def test_registered_schemas_survive_a_restart(settings):
    engine = Engine(settings)
    engine.register_schema(EventSchema(type="wishlist", version=1, requires=["item"]))
    with pytest.raises(SchemaConflict):
        engine.register_schema(EventSchema(type="wishlist", version=2, requires=["item", "value"]))
    engine.close()
    engine = Engine(settings)
    try:
        assert [s.version for s in engine.event_schemas.versions("wishlist")] == [1]
        assert ingest(engine, [{"id": "w", "type": "wishlist", "user_id": "u", "item_id": "i"}]).accepted == 1
    finally:
        engine.close()


def test_open_engine_helper(data_dir):
    engine = open_engine(data_dir)
    try:
        assert engine.settings.data_dir == data_dir
    finally:
        engine.close()


def test_placements_rankers_and_impressions_are_wired_to_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", durable=False)
    engine = Engine(settings)
    add_items(engine, [f"i{k}" for k in range(30)])
    ingest(engine, events(0, 60))
    assert engine.recommender.placements.artifacts is engine.stores.artifacts
    assert engine.recommender.placements.key == "placements.yaml"
    assert engine.recommender.rankers.artifacts is engine.stores.artifacts
    engine.recommender.placements.put("logged", {"sources": {"popular": 1}, "log_impressions": True})
    body = engine.recommend(parse_request({"user_id": "u1", "placement": "logged"}))
    engine.close()  # writes the buffered impression
    again = Engine(settings)
    try:
        assert again.recommender.placements.get("logged").log_impressions  # the admin change was persisted
        [record] = again.stores.impressions.read("logged")
        assert record.recommendation_id == body["recommendation_id"] and len(record.items) == 10
    finally:
        again.close()


def test_a_catalogue_write_by_another_process_is_seen_on_the_next_request(settings):
    writer, reader = Engine(settings), Engine(settings)
    try:
        add_items(reader, [f"i{k}" for k in range(5)])
        ingest(reader, events(0, 20))
        reader.catch_up()
        before = reader.state.catalog.size()
        writer.stores.items.upsert([Item(id="fresh", title="Fresh", categories=["new"])])
        reader.catch_up()  # no event was written since: the catalogue change alone must be seen
        assert reader.state.catalog.size() == before + 1
        body = reader.recommender.recommend(parse_request({"user_id": "nobody", "category": "new", "n": "3"}))
        assert [i["id"] for i in body["items"]] == ["fresh"]
    finally:
        writer.close(snapshot=False)
        reader.close(snapshot=False)


def test_recommend_catches_up_then_serves_with_the_fields_asked_for(settings):
    """Engine.recommend is the one request path (HTTP fast path, route, CLI, tests): it sees
    another process's writes without an explicit catch_up, and reads the fields asked for."""
    writer, reader = Engine(settings), Engine(settings)
    try:
        add_items(reader, [f"i{k}" for k in range(5)])
        ingest(reader, events(0, 20))
        writer.stores.items.upsert([Item(id="fresh", title="Fresh", categories=["new"], price=9.5)])
        body = reader.recommend(parse_request({"user_id": "nobody", "category": "new", "n": "3", "fields": "title,price"}))
        assert body["items"] == [{"id": "fresh", "score": body["items"][0]["score"], "source": body["items"][0]["source"],
                                  "item": {"title": "Fresh", "price": 9.5}}]
        assert "item" not in reader.recommend(parse_request({"user_id": "u1", "n": "3"}))["items"][0]
    finally:
        writer.close(snapshot=False)
        reader.close(snapshot=False)


def test_similar_items_and_a_404_naming_an_unknown_id(settings):
    engine = Engine(settings)
    try:
        add_items(engine, [f"i{k}" for k in range(30)])
        ingest(engine, events(0, 60))
        similar = engine.similar("i0", 4, ("categories",))
        assert len(similar) == 4 and "i0" not in [e["id"] for e in similar]
        assert all(set(e) == {"id", "score", "source", "item"} and "categories" in e["item"] for e in similar)
        with pytest.raises(UnknownItem) as info:
            engine.similar("nope", 4)
        assert info.value.status == 404 and info.value.errors[0].field == "id" and "nope" in info.value.errors[0].reason
    finally:
        engine.close(snapshot=False)
