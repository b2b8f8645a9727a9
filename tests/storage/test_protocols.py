"""The store contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through the protocols of ``tastemaker.storage.protocols``.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchema, PropertySpec
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import AppendResult, ImpressionRecord

T0 = 1_700_000_000.0


def ev(i: int | str, **fields) -> Event:
    base = dict(id=f"e{i}", type="view", user_id="u1", item_id="i1", timestamp=T0 + (i if isinstance(i, int) else 0))
    base.update(fields)
    return Event(**base)


def columns(ids: list[str], **extra: list) -> dict[str, list]:
    n = len(ids)
    return {"id": ids, "type": ["view"] * n, "user_id": ["u1"] * n, "item_id": ["i1"] * n, "ts": [T0] * n, **extra}


# == EventLog ==========================================================================


class TestEventLog:
    def test_empty(self, stores: Stores):
        assert stores.events.count() == 0
        assert stores.events.last_seq() == 0
        assert stores.events.read_since(0) == []
        assert stores.events.read_rows_since(0) == []

    def test_append_assigns_contiguous_ordered_seqs(self, stores: Stores):
        events = [ev(i) for i in range(5)]
        result = stores.events.append(events)
        assert isinstance(result, AppendResult)
        assert result.accepted == list(zip([1, 2, 3, 4, 5], events))
        assert result.duplicates == 0
        more = stores.events.append([ev(10), ev(11)])
        assert [seq for seq, _ in more.accepted] == [6, 7]
        assert stores.events.count() == 7
        assert stores.events.last_seq() == 7

    def test_append_dedupes_by_id(self, stores: Stores):
        stores.events.append([ev(1), ev(2)])
        again = stores.events.append([ev(2, user_id="someone-else"), ev(3), ev(1)])
        assert [(seq, e.id) for seq, e in again.accepted] == [(3, "e3")]
        assert again.duplicates == 2
        assert stores.events.count() == 3
        assert stores.events.read_since(0)[1][1].user_id == "u1"  # the first write wins

    def test_resending_a_whole_batch_writes_nothing(self, stores: Stores):
        batch = [ev(i) for i in range(4)]
        stores.events.append(batch)
        again = stores.events.append(batch)
        assert again.accepted == [] and again.duplicates == 4
        assert stores.events.last_seq() == 4

    def test_duplicates_within_one_batch(self, stores: Stores):
        result = stores.events.append([ev(1), ev(2), ev(1, user_id="u2"), ev(2), ev(3)])
        assert [(seq, e.id, e.user_id) for seq, e in result.accepted] == [(1, "e1", "u1"), (2, "e2", "u1"), (3, "e3", "u1")]
        assert result.duplicates == 2
        assert stores.events.count() == 3

    def test_read_since_round_trips_every_field(self, stores: Stores):
        full = Event(
            id="full", type="rating", user_id="u9", session_id="s1", item_id="i1", item_ids=["i2", "i3"], value=4.5,
            query="red shoes", context={"device": "mobile", "geo": {"country": "DE"}}, timestamp=T0 + 0.25,
            recommendation_id="r1", properties={"k": [1, 2]}, schema_version=1,
        )
        stores.events.append([ev(0), full])
        assert stores.events.read_since(0) == [(1, ev(0)), (2, full)]
        assert stores.events.read_since(1) == [(2, full)]
        assert stores.events.read_since(2) == []

    def test_read_since_is_ordered_and_limited(self, stores: Stores):
        stores.events.append([ev(i) for i in range(10)])
        page = stores.events.read_since(3, limit=4)
        assert [seq for seq, _ in page] == [4, 5, 6, 7]
        assert [e.id for _, e in page] == ["e3", "e4", "e5", "e6"]

    def test_read_rows_since(self, stores: Stores):
        stores.events.append([
            ev(0),
            ev(1, type="purchase", session_id="s1", item_id=None, item_ids=["a", "b"], value=9.5, context={"device": "tv"}),
            ev(2, type="search", item_id=None, query="red shoes"),
        ])
        rows = stores.events.read_rows_since(0)
        assert [tuple(r) for r in rows] == [
            (1, "view", "u1", None, "i1", None, None, T0, None, None),
            (2, "purchase", "u1", "s1", None, '["a","b"]', 9.5, T0 + 1, '{"device":"tv"}', None),
            (3, "search", "u1", None, None, None, None, T0 + 2, None, "red shoes"),
        ]
        assert [r[0] for r in stores.events.read_rows_since(1)] == [2, 3]
        assert [r[0] for r in stores.events.read_rows_since(0, limit=1)] == [1]

    def test_append_columns(self, stores: Stores):
        stores.events.append([ev(0)])
        inserted, duplicates = stores.events.append_columns(iter([
            columns(["c1", "c2"]),
            columns(["e0", "c3", "c1"], value=[None, 2.0, None]),
        ]))
        assert (inserted, duplicates) == (3, 2)
        assert stores.events.count() == 4
        read = stores.events.read_since(1)
        assert [(seq, e.id) for seq, e in read] == [(2, "c1"), (3, "c2"), (4, "c3")]
        assert read[2][1].value == 2.0 and read[0][1].value is None

    def test_append_columns_is_atomic(self, stores: Stores):
        stores.events.append([ev(0)])

        def batches():
            yield columns(["c1", "c2"])
            yield columns(["c3"])
            raise RuntimeError("bad row in the third batch")

        with pytest.raises(RuntimeError, match="third batch"):
            stores.events.append_columns(batches())
        assert stores.events.count() == 1
        assert stores.events.last_seq() == 1
        assert [e.id for _, e in stores.events.read_since(0)] == ["e0"]
        # the store is usable afterwards, and the ids were not burnt
        assert stores.events.append_columns([columns(["c1"])]) == (1, 0)
        assert stores.events.append([ev(5)]).accepted[0][0] == 3

    def test_append_columns_atomic_for_other_readers(self, stores: Stores, other_stores: Stores):
        def batches():
            yield columns(["c1"])
            assert other_stores.events.count() == 0  # not visible before the commit
            yield columns(["c2"])

        assert stores.events.append_columns(batches()) == (2, 0)
        assert other_stores.events.count() == 2

    def test_changed_flips_when_another_connection_writes(self, stores: Stores, other_stores: Stores):
        stores.events.changed()  # first call primes
        assert stores.events.changed() is False
        other_stores.events.append([ev(1)])
        assert stores.events.changed() is True
        assert stores.events.changed() is False
        other_stores.events.append_columns([columns(["c1"])])
        assert stores.events.changed() is True
        assert stores.events.read_since(0)[-1][1].id == "c1"

    def test_other_connections_see_appends(self, stores: Stores, other_stores: Stores):
        stores.events.append([ev(1), ev(2)])
        assert other_stores.events.count() == 2
        result = other_stores.events.append([ev(2), ev(3)])
        assert [(s, e.id) for s, e in result.accepted] == [(3, "e3")]
        assert stores.events.last_seq() == 3


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.integers(0, 30), min_size=1, max_size=20))
def test_event_log_model(backend, batch):
    """Appends match a simple model: new ids get the next seqs in batch order, the rest are duplicates."""
    stores = backend.open()
    seen = {e.id for _, e in stores.events.read_since(0, limit=1_000_000)}
    last = stores.events.last_seq()
    expected = []
    for i in batch:
        if f"e{i}" not in seen:
            seen.add(f"e{i}")
            expected.append(f"e{i}")
    result = stores.events.append([ev(i) for i in batch])
    assert [(s, e.id) for s, e in result.accepted] == list(zip(range(last + 1, last + 1 + len(expected)), expected))
    assert result.duplicates == len(batch) - len(expected)
    assert stores.events.count() == len(seen) == stores.events.last_seq()


# == ItemCatalog / UserStore =============================================================

DOCS = {
    "items": (
        lambda i, **kw: Item(id=f"i{i}", title=f"Item {i}", categories=["a"], price=1.5 * i, stock=3, **kw),
        lambda i: {"brand": f"b{i}"},
    ),
    "users": (
        lambda i, **kw: User(id=f"u{i}", consent={"marketing": i % 2 == 0}, **({"traits": {"n": i}} | kw)),
        lambda i: {"traits": {"n": -i}},
    ),
}


@pytest.fixture(params=sorted(DOCS))
def doc_kind(request):
    return request.param


class TestDocuments:
    def store(self, stores: Stores, kind: str):
        return stores.items if kind == "items" else stores.users

    def make(self, kind: str, i: int, changed: bool = False):
        factory, change = DOCS[kind]
        return factory(i, **(change(i) if changed else {}))

    def test_upsert_get_count(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        assert store.count() == 0 and store.get("x") is None
        v1 = store.upsert([self.make(doc_kind, 1), self.make(doc_kind, 2)])
        assert store.get(self.make(doc_kind, 1).id) == self.make(doc_kind, 1)
        assert store.count() == 2
        v2 = store.upsert([self.make(doc_kind, 1, changed=True)])
        assert v2 > v1
        assert store.get(self.make(doc_kind, 1).id) == self.make(doc_kind, 1, changed=True)  # replaced, not merged
        assert store.count() == 2

    def test_versions_increase_with_every_write(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        versions = [store.upsert([self.make(doc_kind, i)]) for i in range(4)]
        assert versions == sorted(set(versions))
        latest, changes = store.changes_since(versions[1])
        assert latest == versions[-1]
        assert [doc_id for doc_id, _ in changes] == [self.make(doc_kind, 2).id, self.make(doc_kind, 3).id]
        assert store.changes_since(latest) == (latest, [])

    def test_delete_leaves_a_tombstone_in_changes(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        a, b = self.make(doc_kind, 1), self.make(doc_kind, 2)
        version = store.upsert([a, b])
        assert store.delete(a.id) is True
        assert store.get(a.id) is None
        assert store.count() == 1
        assert store.delete(a.id) is False  # already deleted
        assert store.delete("never-existed") is False
        latest, changes = store.changes_since(version)
        assert latest > version
        assert changes == [(a.id, None)]
        _, everything = store.changes_since(0)
        assert sorted(everything, key=lambda c: c[0]) == [(a.id, None), (b.id, b)]

    def test_upsert_after_delete_resurrects(self, stores, doc_kind):
        store = self.store(stores, doc_kind)
        a = self.make(doc_kind, 1)
        store.upsert([a])
        store.delete(a.id)
        version = store.upsert([a])
        assert store.get(a.id) == a
        assert store.changes_since(version - 1) == (version, [(a.id, a)])

    def test_other_connections_follow_changes(self, stores, other_stores, doc_kind):
        mine, theirs = self.store(stores, doc_kind), self.store(other_stores, doc_kind)
        a = self.make(doc_kind, 1)
        v = mine.upsert([a])
        assert theirs.get(a.id) == a
        theirs.delete(a.id)
        latest, changes = mine.changes_since(v)
        assert changes == [(a.id, None)] and latest > v


def test_item_catalog_iter_all_skips_tombstones(stores: Stores):
    items = [Item(id=f"i{i}", tags=["t"]) for i in range(3)]
    stores.items.upsert(items)
    stores.items.delete("i1")
    assert sorted(i.id for i in stores.items.iter_all()) == ["i0", "i2"]


# == KeyStore ===========================================================================


class TestKeyStore:
    def test_create_find_list(self, stores: Stores):
        record = stores.keys.create("ingest bot", frozenset({"events:write", "recs:read"}), "hash-1", "k1")
        assert (record.key_id, record.name, record.scopes, record.revoked) == ("k1", "ingest bot", frozenset({"events:write", "recs:read"}), False)
        found = stores.keys.find("k1")
        assert found == (record, "hash-1")
        assert stores.keys.find("k2") is None
        second = stores.keys.create("admin", frozenset({"admin"}), "hash-2", "k2")
        assert [k.key_id for k in stores.keys.list()] == ["k1", "k2"]
        assert stores.keys.list()[1] == second

    def test_scopes_round_trip_exactly(self, stores: Stores):
        for i, scopes in enumerate([frozenset(), frozenset({"a"}), frozenset({"b", "a", "c:d"})]):
            stores.keys.create(f"k{i}", scopes, "h", f"k{i}")
            assert stores.keys.find(f"k{i}")[0].scopes == scopes

    def test_revoke(self, stores: Stores, other_stores: Stores):
        stores.keys.create("bot", frozenset({"a"}), "h", "k1")
        assert stores.keys.revoke("k1") is True
        assert stores.keys.revoke("k1") is False
        assert stores.keys.revoke("nope") is False
        record, secret_hash = other_stores.keys.find("k1")
        assert record.revoked is True and secret_hash == "h"
        assert [k.revoked for k in stores.keys.list()] == [True]

    def test_change_token_moves_on_every_key_write_seen_by_other_stores(self, stores: Stores, other_stores: Stores):
        seen = other_stores.keys.change_token()
        assert stores.keys.change_token() == seen  # one token per data dir
        stores.keys.create("bot", frozenset({"a"}), "h", "k1")
        assert other_stores.keys.change_token() != seen
        seen = other_stores.keys.change_token()
        assert other_stores.keys.change_token() == seen  # reads alone move nothing
        stores.keys.find("k1"), stores.keys.list()
        assert other_stores.keys.change_token() == seen
        stores.keys.revoke("k1")
        assert other_stores.keys.change_token() != seen

    def test_key_ids_are_unique(self, stores: Stores):
        stores.keys.create("a", frozenset({"a"}), "h1", "k1")
        with pytest.raises(Exception):
            stores.keys.create("b", frozenset({"a"}), "h2", "k1")
        assert stores.keys.find("k1")[1] == "h1"


# == SchemaStore ========================================================================


def test_schema_store_round_trip(stores: Stores, other_stores: Stores):
    assert stores.schemas.load_all() == []
    v1 = EventSchema(type="play", requires=["item"], properties={"seconds": PropertySpec("integer")}, value_min=0.0, description="d")
    v2 = EventSchema(type="play", version=2, requires=["item"],
                     properties={"seconds": PropertySpec("integer"), "hd": PropertySpec("boolean")}, value_min=0.0)
    other = EventSchema(type="checkout", requires=["value"], properties={"coupon": PropertySpec("string", required=True)})
    for schema in (v2, other, v1):
        stores.schemas.save(schema)
    assert other_stores.schemas.load_all() == [other, v1, v2]  # by type, then version
    with pytest.raises(Exception):
        stores.schemas.save(v1)  # a version is immutable once stored
    assert len(stores.schemas.load_all()) == 3


# == ImpressionLog =======================================================================


def imp(rec: str, ts: float, placement: str = "home", items=("a", "b"), names=("blend", "margin"), **kw):
    import numpy as np

    feats = np.arange(len(items) * len(names), dtype=np.float64).reshape(len(items), len(names)) / 4 if names else None
    return ImpressionRecord(rec, placement, kw.pop("user_id", "u1"), ts, list(items), feats, tuple(names), kw.pop("log_seq", 7))


class TestImpressionLog:
    def test_round_trip_in_time_order(self, stores: Stores, other_stores: Stores):
        assert stores.impressions.count() == 0 and stores.impressions.read() == []
        assert stores.impressions.append([imp("r2", T0 + 2), imp("r1", T0 + 1, placement="cart", items=["c"]),
                                          imp("r3", T0 + 3, names=())]) == 3
        got = other_stores.impressions.read()
        assert [r.recommendation_id for r in got] == ["r1", "r2", "r3"]
        first = got[1]
        assert (first.placement, first.user_id, first.ts, first.items, first.log_seq) == ("home", "u1", T0 + 2, ["a", "b"], 7)
        assert first.feature_names == ("blend", "margin") and first.features.tolist() == [[0.0, 0.25], [0.5, 0.75]]
        assert got[2].features is None and got[2].feature_names == ()
        assert [r.recommendation_id for r in stores.impressions.read("home")] == ["r2", "r3"]
        assert [r.recommendation_id for r in stores.impressions.read(since_ts=T0 + 2, until_ts=T0 + 3)] == ["r2"]
        assert stores.impressions.count() == 3 and stores.impressions.count("cart") == 1

    def test_a_repeated_id_is_ignored(self, stores: Stores):
        assert stores.impressions.append([imp("r1", T0)]) == 1
        assert stores.impressions.append([imp("r1", T0 + 5, placement="cart"), imp("r2", T0)]) == 1
        assert [(r.recommendation_id, r.placement) for r in stores.impressions.read()] == [("r1", "home"), ("r2", "home")]
        assert stores.impressions.append([]) == 0

    def test_retention(self, stores: Stores):
        stores.impressions.append([imp(f"r{i}", T0 + i) for i in range(5)])
        assert stores.impressions.delete_before(T0 + 3) == 3
        assert [r.recommendation_id for r in stores.impressions.read()] == ["r3", "r4"]


# == durability ==========================================================================


def test_everything_survives_close_and_reopen(backend):
    stores = backend.open(durable=True)
    events = [ev(i, context={"device": "mobile"}) for i in range(3)]
    stores.events.append(events)
    stores.events.append_columns([columns(["c1"])])
    stores.items.upsert([Item(id="i1", title="One", stock=2), Item(id="i2")])
    stores.items.delete("i2")
    stores.users.upsert([User(id="u1", consent={"marketing": True})])
    stores.keys.create("bot", frozenset({"a"}), "h", "k1")
    stores.keys.revoke("k1")
    schema = EventSchema(type="play", requires=["item"])
    stores.schemas.save(schema)
    stores.close()

    fresh = backend.open(durable=True)
    assert fresh.events.count() == 4 and fresh.events.last_seq() == 4
    assert [e for _, e in fresh.events.read_since(0)][:3] == events
    assert fresh.items.get("i1") == Item(id="i1", title="One", stock=2)
    assert fresh.items.get("i2") is None
    assert fresh.items.changes_since(0)[1][-1] == ("i2", None)
    assert fresh.users.get("u1") == User(id="u1", consent={"marketing": True})
    assert fresh.keys.find("k1")[0].revoked is True
    assert fresh.schemas.load_all() == [schema]
    # and it keeps going where it stopped
    assert fresh.events.append([ev(0), ev(9)]).accepted[0][0] == 5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    context=st.none() | st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8) | st.integers(-10**6, 10**6), min_size=1, max_size=3),
    item_ids=st.none() | st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4),
    query=st.none() | st.text(max_size=30),
)
def test_any_valid_event_round_trips_through_the_log(backend, value, context, item_ids, query):
    stores = backend.open()
    event = Event(id=f"h{stores.events.last_seq()}", type="view", user_id="u", item_ids=item_ids, value=value,
                  context=context, query=query, timestamp=T0)
    [(seq, written)] = stores.events.append([event]).accepted
    assert stores.events.read_since(seq - 1, limit=1) == [(seq, event)]
    assert msgspec.json.encode(written) == msgspec.json.encode(event)
