"""EventLog contract: bulk imports (append_columns) and API appends (append) share one log.

One id space, one seq sequence, one read order, whichever way an event came in. Like the
store contract suites (test_*_contract.py) this speaks only through the protocols, so every
backend runs it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastemaker.schema.records import Event
from tastemaker.storage.factory import Stores

T0 = 1_700_000_000.0


def ev(name: str, user: str = "u1") -> Event:
    return Event(id=name, type="view", user_id=user, item_id="i1", timestamp=T0)


def columns(ids: list[str], user: str = "u1") -> dict[str, list]:
    n = len(ids)
    return {"id": ids, "type": ["view"] * n, "user_id": [user] * n, "item_id": ["i1"] * n, "ts": [T0] * n}


def logged(stores: Stores) -> list[tuple[int, str]]:
    return [(seq, e.id) for seq, e in stores.events.read_since(0, limit=1_000_000)]


def test_imported_ids_are_duplicates_for_the_api(stores: Stores):
    assert stores.events.append_columns([columns(["a", "b", "c"])]) == (3, 0)
    result = stores.events.append([ev("b", user="other"), ev("d"), ev("a")])
    assert [(seq, e.id) for seq, e in result.accepted] == [(4, "d")]
    assert result.duplicates == 2
    assert logged(stores) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert stores.events.read_since(1, limit=1)[0][1].user_id == "u1"  # the first write wins


def test_api_ids_are_duplicates_for_imports(stores: Stores):
    stores.events.append([ev("a"), ev("b")])
    assert stores.events.append_columns([columns(["b", "c"], user="other"), columns(["a", "d"])]) == (2, 2)
    assert logged(stores) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert [e.user_id for _, e in stores.events.read_since(0)] == ["u1", "u1", "other", "u1"]
    assert stores.events.count() == 4 and stores.events.last_seq() == 4


def test_duplicates_inside_one_import(stores: Stores):
    batches = [columns(["a", "b", "a"]), columns(["b", "c", "c", "d"], user="other")]
    batches[0]["user_id"][2] = "repeat"  # the later copy of "a" must not win
    assert stores.events.append_columns(batches) == (4, 3)
    assert logged(stores) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert [e.user_id for _, e in stores.events.read_since(0)] == ["u1", "u1", "other", "other"]


def test_reimporting_the_same_batches_is_all_duplicates(stores: Stores):
    batches = [columns([f"x{i}" for i in range(50)]), columns([f"y{i}" for i in range(30)])]
    assert stores.events.append_columns(batches) == (80, 0)
    stores.events.append([ev("api")])
    assert stores.events.append_columns(batches) == (0, 80)
    assert stores.events.count() == 81 and stores.events.last_seq() == 81
    assert stores.events.append([ev("next")]).accepted[0][0] == 82


def test_a_failing_batch_rolls_back_earlier_batches_and_their_ids(stores: Stores):
    stores.events.append([ev("e0")])

    def batches():
        yield columns(["a", "b"])
        yield columns(["c"])
        raise RuntimeError("bad third batch")

    with pytest.raises(RuntimeError, match="bad third batch"):
        stores.events.append_columns(batches())
    assert logged(stores) == [(1, "e0")]
    assert stores.events.count() == 1 and stores.events.last_seq() == 1
    assert stores.events.read_rows_since(1) == []
    # none of the ids was kept: they are new to both kinds of append
    assert stores.events.append([ev("a")]).accepted[0][0] == 2
    assert stores.events.append_columns([columns(["a", "b", "c"])]) == (2, 1)
    assert logged(stores) == [(1, "e0"), (2, "a"), (3, "b"), (4, "c")]


def mixed_log(stores: Stores) -> list[str]:
    """API rows and imports interleaved; returns the ids in the order they must be read."""
    order: list[str] = []

    def api(*names: str) -> None:
        stores.events.append([ev(n) for n in names])
        order.extend(names)

    def bulk(*batches: list[str]) -> None:
        stores.events.append_columns([columns(b) for b in batches])
        order.extend(i for b in batches for i in b)

    api("a1", "a2", "a3")
    bulk([f"b{i}" for i in range(5)], [f"c{i}" for i in range(4)])
    api("a4")
    api("a5", "a6")
    bulk([f"d{i}" for i in range(7)])
    bulk(["e0"])
    api("a7")
    return order


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 100, 100_000])
def test_paging_reads_every_event_once_in_seq_order(stores: Stores, limit: int):
    order = mixed_log(stores)
    rows, events, seq = [], [], 0
    while page := stores.events.read_rows_since(seq, limit):
        assert len(page) <= limit
        rows += page
        seq = page[-1][0]
    seq = 0
    while page := stores.events.read_since(seq, limit):
        events += page
        seq = page[-1][0]
    expected = list(range(1, len(order) + 1))
    assert [r[0] for r in rows] == expected
    assert [(s, e.id) for s, e in events] == list(zip(expected, order))
    assert all(r[1:5] == ("view", "u1", None, "i1") and r[7] == T0 for r in rows)
    assert stores.events.count() == stores.events.last_seq() == len(order)


def test_pages_are_full_until_the_end(stores: Stores):
    order = mixed_log(stores)
    for start in range(len(order) + 1):
        for limit in (1, 4, 9):
            page = stores.events.read_rows_since(start, limit)
            assert [r[0] for r in page] == list(range(start + 1, min(start + limit, len(order)) + 1))


def test_restart_sees_everything(backend):
    stores = backend.open(durable=True)
    order = mixed_log(stores)
    stores.close()

    fresh = backend.open(durable=True)
    assert logged(fresh) == list(enumerate(order, start=1))
    assert [r[0] for r in fresh.events.read_rows_since(0)] == list(range(1, len(order) + 1))
    assert fresh.events.count() == fresh.events.last_seq() == len(order)
    assert fresh.events.append([ev("a1"), ev("b3"), ev("new")]).accepted == [(len(order) + 1, ev("new"))]
    assert fresh.events.append_columns([columns(["c0", "a7", "new", "newer"])]) == (1, 3)
    assert fresh.events.last_seq() == len(order) + 2


@st.composite
def operations(draw) -> list[tuple[str, list]]:
    ids = st.integers(0, 40)
    api = st.tuples(st.just("api"), st.lists(ids, min_size=1, max_size=8))
    bulk = st.tuples(st.just("bulk"), st.lists(st.lists(ids, max_size=8), min_size=1, max_size=3))
    return draw(st.lists(api | bulk, min_size=1, max_size=8))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations(), limit=st.integers(1, 12))
def test_mixed_log_model(backend, ops, limit):
    """Against a list: new ids get the next seqs in order, the rest are duplicates; paged reads see the list."""
    stores = backend.open()
    model = [e.id for _, e in stores.events.read_since(0, limit=1_000_000)]
    for kind, payload in ops:
        if kind == "api":
            names = [f"e{i}" for i in payload]
            new = list(dict.fromkeys(n for n in names if n not in model))
            result = stores.events.append([ev(n) for n in names])
            assert [(s, e.id) for s, e in result.accepted] == list(enumerate(new, start=len(model) + 1))
            assert result.duplicates == len(names) - len(new)
        else:
            names = [f"e{i}" for batch in payload for i in batch]
            new = list(dict.fromkeys(n for n in names if n not in model))
            assert stores.events.append_columns([columns([f"e{i}" for i in b]) for b in payload]) == (len(new), len(names) - len(new))
        model += new
    seen, seq = [], 0
    while page := stores.events.read_rows_since(seq, limit):
        seen += [r[0] for r in page]
        seq = page[-1][0]
    assert seen == list(range(1, len(model) + 1))
    assert logged(stores) == list(enumerate(model, start=1))
    assert stores.events.count() == stores.events.last_seq() == len(model)
