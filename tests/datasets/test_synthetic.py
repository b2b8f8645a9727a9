"""Properties of the synthetic generator: shape, determinism and learnable signal."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.datasets import EVENT_SCHEMA, EVENT_TYPES, generate, validate_events

N_USERS, N_ITEMS, N_EVENTS = 300, 1_000, 20_000


@pytest.fixture(scope="module")
def ds():
    return generate(N_USERS, N_ITEMS, N_EVENTS, seed=5)


@pytest.fixture(scope="module")
def ev(ds) -> dict[str, list]:
    return ds.events.to_pydict()


@pytest.fixture(scope="module")
def item_cat(ds) -> dict[str, str]:
    return {it["id"]: it["categories"][0] for it in ds.items}


def test_sizes_schema_and_ids(ds, ev):
    assert ds.events.num_rows == N_EVENTS
    assert len(ds.items) == N_ITEMS and len(ds.users) == N_USERS
    assert ds.events.schema.equals(EVENT_SCHEMA)
    validate_events(ds.events)  # exact schema + sorted by time
    assert len(set(ev["id"])) == N_EVENTS
    assert all(re.fullmatch(r"e\d+", x) for x in ev["id"])
    assert {it["id"] for it in ds.items} == {f"i{i}" for i in range(N_ITEMS)}
    assert {u["id"] for u in ds.users} == {f"u{i}" for i in range(N_USERS)}
    assert set(ev["user_id"]) <= {u["id"] for u in ds.users}
    assert {x for x in ev["item_id"] if x is not None} <= {it["id"] for it in ds.items}
    assert set(ev["type"]) <= set(EVENT_TYPES)


def test_sorted_and_within_window(ds):
    ts = ds.events.column("timestamp").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    assert ts.min() >= 1_700_000_000.0
    assert ts.max() <= 1_700_000_000.0 + 30 * 86400 + 86400  # a session may run past the end


@pytest.mark.parametrize("n_events", [0, 1, 7, 333])
def test_exact_event_count(n_events):
    out = generate(5, 20, n_events, seed=3)
    assert out.events.num_rows == n_events
    validate_events(out.events)


@settings(max_examples=25, deadline=None)
@given(n_users=st.integers(1, 15), n_items=st.integers(1, 40), n_events=st.integers(0, 400),
       n_categories=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_any_small_configuration_is_valid(n_users, n_items, n_events, n_categories, seed):
    out = generate(n_users, n_items, n_events, seed=seed, n_categories=n_categories)
    validate_events(out.events)
    assert out.events.num_rows == n_events
    assert pc.count_distinct(out.events.column("id")).as_py() == n_events
    assert len(out.items) == n_items and len(out.users) == n_users


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate(0, 10, 10)
    with pytest.raises(ValueError):
        generate(10, 10, -1)


def test_deterministic_given_seed():
    a, b = generate(40, 120, 2_000, seed=11), generate(40, 120, 2_000, seed=11)
    assert a.events.equals(b.events)
    assert a.items == b.items and a.users == b.users
    c = generate(40, 120, 2_000, seed=12)
    assert not a.events.equals(c.events)


def test_catalog_records(ds):
    words = {it["categories"][0] for it in ds.items}
    for it in ds.items:
        num, word = re.fullmatch(r"Item (\d+) (\S+)", it["title"]).groups()
        assert f"i{num}" == it["id"] and word == it["categories"][0]
        assert it["price"] > 0 and 0 < it["margin"] < 1 and it["stock"] >= 0
        assert isinstance(it["tags"], list) and isinstance(it["properties"], dict)
        assert it["created_at"] < 1_700_000_000.0
    assert 1 < len(words) <= 50
    assert any(it["stock"] == 0 for it in ds.items)  # some out of stock
    assert len({it["brand"] for it in ds.items}) > 3
    for u in ds.users:
        assert set(u["consent"]) and all(isinstance(v, bool) for v in u["consent"].values())
        assert isinstance(u["traits"], dict)


def test_event_funnel_and_values(ds, ev):
    counts = Counter(ev["type"])
    assert counts["view"] > counts["click"] > counts["add_to_cart"] > counts["purchase"] > 0
    assert counts["view"] > 0.5 * N_EVENTS
    assert min(counts[t] for t in ("rating", "like", "dislike", "search")) > 0
    price = {it["id"]: it["price"] for it in ds.items}
    stock = {it["id"]: it["stock"] for it in ds.items}
    for t, item, value, query in zip(ev["type"], ev["item_id"], ev["value"], ev["query"]):
        if t == "search":
            assert item is None and query
        else:
            assert item is not None and query is None
        if t == "purchase":
            assert value == price[item] and stock[item] > 0
        elif t == "rating":
            assert value in {1.0, 2.0, 3.0, 4.0, 5.0}
        else:
            assert value is None


def test_popularity_is_skewed(ev):
    counts = sorted(Counter(x for x in ev["item_id"] if x).values(), reverse=True)
    top = counts[: N_ITEMS // 100]  # top 1% of items
    assert sum(top) / sum(counts) > 0.10


def test_sessions_have_realistic_timing(ev):
    ts, sess, users = ev["timestamp"], ev["session_id"], ev["user_id"]
    owner: dict[str, str] = {}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    inside = []
    for t, s, u in zip(ts, sess, users):
        assert owner.setdefault(s, u) == u  # a session belongs to one user
        if s in last:
            inside.append(t - last[s])
        first.setdefault(s, t)
        last[s] = t
    per_user = defaultdict(list)
    for s, u in owner.items():
        per_user[u].append((first[s], last[s]))
    between = []
    for spans in per_user.values():
        spans.sort()
        between += [b[0] - a[1] for a, b in zip(spans, spans[1:])]
    assert min(between) > 0  # a user's sessions never overlap
    assert np.median(inside) < 120  # seconds to minutes inside a session
    assert np.median(between) > 3 * 3600  # hours to days between sessions
    assert np.median(between) > 100 * np.median(inside)
    assert 2 < N_EVENTS / len(owner) < 12  # a few events per session


def test_covisitation_signal(ev, item_cat):
    prev: dict[str, str] = {}
    pairs = []
    views = []
    for t, s, item in zip(ev["type"], ev["session_id"], ev["item_id"]):
        if t != "view":
            continue
        if s in prev:
            pairs.append((prev[s], item))
        prev[s] = item
        views.append(item)
    same = np.mean([item_cat[a] == item_cat[b] for a, b in pairs])
    rng = np.random.default_rng(0)
    a, b = rng.choice(views, 5_000), rng.choice(views, 5_000)
    random_same = np.mean([item_cat[x] == item_cat[y] for x, y in zip(a, b)])
    assert same > 3 * random_same


def test_users_have_learnable_tastes(ev, item_cat):
    """A per-user category profile predicts future views far better than global taste."""
    n = len(ev["type"])
    split = int(n * 0.7)
    train, test = defaultdict(Counter), defaultdict(list)
    glob = Counter()
    for k, (t, u, item) in enumerate(zip(ev["type"], ev["user_id"], ev["item_id"])):
        if t != "view":
            continue
        if k < split:
            train[u][item_cat[item]] += 1
            glob[item_cat[item]] += 1
        else:
            test[u].append(item_cat[item])
    top_global = {c for c, _ in glob.most_common(3)}
    personal = general = total = 0
    for u, cats in test.items():
        if sum(train[u].values()) < 5:
            continue
        mine = {c for c, _ in train[u].most_common(3)}
        personal += sum(c in mine for c in cats)
        general += sum(c in top_global for c in cats)
        total += len(cats)
    assert total > 1_000
    assert personal / total > 1.5 * general / total


def test_larger_dataset_shape():
    """One bigger (timing-free) run: exact counts and unique ids at scale."""
    out = generate(5_000, 20_000, 300_000, seed=0)
    assert out.events.num_rows == 300_000
    ids = out.events.column("id")
    assert pc.count_distinct(ids).as_py() == 300_000
    validate_events(out.events)
    assert pc.count_distinct(out.events.column("item_id")).as_py() > 10_000


def test_churn_process_has_a_known_truth_and_leaves_the_default_unchanged():
    import numpy as np

    from tastemaker.datasets.synthetic import churn_times, generate

    plain = generate(300, 200, 6000, seed=9)
    assert plain.events.equals(generate(300, 200, 6000, seed=9, churn=0.0).events)
    ds = generate(300, 200, 6000, seed=9, days=60, churn=0.5)
    leave = churn_times(300, 9, 0.5, days=60)
    users = np.array([int(u[1:]) for u in ds.events.column("user_id").to_pylist()])
    ts = ds.events.column("timestamp").to_numpy()
    assert 0.4 < np.isfinite(leave).mean() < 0.6
    # sessions start before the dropout; a session may run on for its own length (minutes)
    assert np.all(ts <= leave[users] + 3 * 3600)
