"""MovieLens-100k read in place from the recbole wheel (no data copied into the repo)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from tastemaker.datasets import EVENT_SCHEMA, DatasetUnavailable, validate_events
from tastemaker.datasets import movielens

pytest.importorskip("recbole", reason="ML-100k ships inside recbole")


@pytest.fixture(scope="module")
def ds():
    return movielens.load_ml100k()


def test_sizes(ds):
    assert ds.name == "ml-100k"
    assert ds.events.num_rows == 100_000
    assert len(ds.users) == 943 and len(ds.items) == 1682
    assert pc.count_distinct(ds.events.column("user_id")).as_py() == 943
    assert pc.count_distinct(ds.events.column("item_id")).as_py() == 1682


def test_rating_events(ds):
    ev = ds.events
    assert ev.schema.equals(EVENT_SCHEMA)
    validate_events(ev)  # schema + sorted by timestamp
    assert ev.column("type").unique().to_pylist() == ["rating"]
    values = ev.column("value").to_numpy()
    assert set(np.unique(values)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ev.column("session_id").null_count == ev.num_rows
    assert ev.column("query").null_count == ev.num_rows
    ids = ev.column("id").to_pylist()
    assert len(set(ids)) == ev.num_rows
    users, items = ev.column("user_id").to_pylist(), ev.column("item_id").to_pylist()
    assert all(i == f"ml-{u}-{m}" for i, u, m in zip(ids, users, items))
    assert set(users) <= {u["id"] for u in ds.users}
    assert set(items) <= {it["id"] for it in ds.items}
    ts = ev.column("timestamp").to_numpy()
    assert 8.7e8 < ts.min() < ts.max() < 9.0e8  # 1997-1998


def test_items_have_genres_and_years(ds):
    by_id = {it["id"]: it for it in ds.items}
    toy = by_id["1"]
    assert toy["title"] == "Toy Story"
    assert toy["categories"] == ["Animation", "Children's", "Comedy"]
    assert toy["properties"] == {"release_year": 1995}
    assert toy["created_at"] == 788_918_400.0  # 1995-01-01T00:00:00Z
    assert sum(bool(it["categories"]) for it in ds.items) > 1_600
    assert all(" " not in g for it in ds.items for g in it["categories"])
    missing = [it for it in ds.items if it["properties"]["release_year"] is None]
    assert missing and all(it["created_at"] is None for it in missing)
    # Accented titles exist and are not mojibake (UTF-8 bytes mis-read as latin-1 give "Ã").
    assert any(any(ord(ch) > 127 for ch in it["title"]) for it in ds.items)
    assert not any("\u00c3" in it["title"] for it in ds.items)


def test_users_have_traits(ds):
    u = next(u for u in ds.users if u["id"] == "1")
    assert set(u["traits"]) == {"age", "gender", "occupation", "zip_code"}
    assert isinstance(u["traits"]["age"], int) and u["consent"] == {}
    assert {x["traits"]["gender"] for x in ds.users} == {"M", "F"}


def test_missing_recbole_raises_clear_error(monkeypatch):
    monkeypatch.setattr(movielens, "_PACKAGE", "recbole_is_not_installed_here")
    with pytest.raises(DatasetUnavailable, match=r"pip install --no-deps recbole==1\.2\.1"):
        movielens.load_ml100k()
