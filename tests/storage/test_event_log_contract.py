"""The event log contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.EventLog``.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastemaker.schema.records import Event
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import AppendResult

from .conftest import Backend
from .helpers import T0, columns, ev


@pytest.fixture
def backend(event_log_backend: Backend) -> Backend:
    """This suite runs on every event log backend, JetStream included."""
    return event_log_backend


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

    def test_events_for_user_pages_through_rows_and_imports_in_log_order(self, stores: Stores):
        full = Event(id="full", type="search", user_id="me", session_id="s", query="private query",
                     context={"ip": "10.0.0.1"}, timestamp=T0, recommendation_id="r1", properties={"k": 1},
                     schema_version=1)
        stores.events.append([ev(0, user_id="me"), ev(1), full])
        stores.events.append_columns(iter([columns(["c1", "c2", "c3"], user_id=["me", "u1", "me"],
                                                   query=["imported q", None, None])]))
        stores.events.append([ev(2, user_id="me"), ev(3)])
        everything = stores.events.events_for_user("me", limit=100)
        assert [(seq, e.id) for seq, e in everything] == [(1, "e0"), (3, "full"), (4, "c1"), (6, "c3"), (7, "e2")]
        assert everything[1][1] == full  # every field, context and query included
        assert everything[2][1].query == "imported q"
        for size in (1, 2, 3):  # pages that end inside the import and inside the rows
            pages, after = [], 0
            while True:
                page = stores.events.events_for_user("me", after_seq=after, limit=size)
                assert len(page) <= size
                pages += page
                if len(page) < size:
                    break
                after = page[-1][0]
            assert pages == everything
        assert stores.events.events_for_user("nobody") == []
        assert stores.events.events_for_user("me", after_seq=7) == []

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
