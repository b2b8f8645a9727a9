"""Round-trips of Dataset.write in every format, read back with pyarrow directly."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from tastemaker.datasets import EVENT_SCHEMA, Dataset, empty_events, generate, validate_events


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(60, 200, 3_000, seed=9)


def _tricky() -> Dataset:
    """Strings that stress CSV/JSON escaping, plus nulls and empty containers."""
    events = pa.Table.from_pylist([
        {"id": "a", "type": "search", "user_id": "u\"1", "session_id": None, "item_id": None,
         "value": None, "query": 'red "shoes"\nback\\slash \u00e9\u2603', "timestamp": 1.5},
        {"id": "b", "type": "rating", "user_id": "u,2", "session_id": "s|1", "item_id": "x",
         "value": 4.0, "query": "", "timestamp": 2.0},
        {"id": "c", "type": "purchase", "user_id": "u3", "session_id": "s2", "item_id": "x",
         "value": 0.1 + 0.2, "query": None, "timestamp": 1_700_000_000.123456},
    ], schema=EVENT_SCHEMA)
    items = [
        {"id": "x", "title": 'The "best", really\nbest', "description": "", "categories": [],
         "brand": None, "price": 19.99, "margin": None, "stock": 0, "tags": ["a", "b c"],
         "created_at": -86400.0, "properties": {"nested": {"k": [1, 2]}, "ok": True}},
        {"id": "y", "title": "Caf\u00e9", "description": "d", "categories": ["A", "B"],
         "brand": "Z", "price": None, "margin": 0.25, "stock": None, "tags": [],
         "created_at": None, "properties": {}},
    ]
    users = [{"id": "u\"1", "traits": {"age": 3}, "consent": {}},
             {"id": "u3", "traits": {}, "consent": {"marketing": False}}]
    return Dataset(items=items, users=users, events=events, name="tricky")


def _read_events(path, fmt: str) -> pa.Table:
    if fmt == "parquet":
        table = pq.read_table(path)
    elif fmt == "csv":
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in EVENT_SCHEMA},
            strings_can_be_null=True, quoted_strings_can_be_null=False))
    else:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(
            explicit_schema=EVENT_SCHEMA))
    return table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_round_trip_synthetic(ds, fmt, tmp_path):
    paths = ds.write(tmp_path, fmt)
    assert set(paths) == {"items", "users", "events"}
    assert all(p.exists() and p.suffix == f".{fmt}" for p in paths.values())
    assert _read_events(paths["events"], fmt).equals(ds.events)
    back = Dataset.read(tmp_path, fmt)
    assert back.events.equals(ds.events)
    assert back.items == ds.items
    assert back.users == ds.users


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_round_trip_tricky_strings(fmt, tmp_path):
    ds = _tricky()
    paths = ds.write(tmp_path, fmt)
    assert _read_events(paths["events"], fmt).equals(ds.events)
    back = Dataset.read(tmp_path, fmt)
    assert back.events.equals(ds.events)
    assert back.users == ds.users
    assert back.items == ds.items  # incl. [] lists, None fields, nested dicts, unicode


def test_csv_encodes_lists_and_dicts_as_text(tmp_path):
    paths = _tricky().write(tmp_path, "csv")
    with open(paths["items"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["tags"] == "a|b c" and rows[1]["categories"] == "A|B"
    assert json.loads(rows[0]["properties"]) == {"nested": {"k": [1, 2]}, "ok": True}
    with open(paths["users"], newline="", encoding="utf-8") as fh:
        users = list(csv.DictReader(fh))
    assert json.loads(users[1]["consent"]) == {"marketing": False}


def test_jsonl_omits_nulls_and_uses_native_types(tmp_path):
    paths = _tricky().write(tmp_path, "jsonl")
    events = [json.loads(line) for line in paths["events"].read_text("utf-8").splitlines()]
    assert "item_id" not in events[0] and "session_id" not in events[0]
    assert events[0]["query"] == 'red "shoes"\nback\\slash \u00e9\u2603'
    assert events[1]["query"] == "" and events[1]["value"] == 4.0
    items = [json.loads(line) for line in paths["items"].read_text("utf-8").splitlines()]
    assert items[0]["tags"] == ["a", "b c"] and "brand" not in items[0]
    assert items[0]["properties"] == {"nested": {"k": [1, 2]}, "ok": True}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_empty_dataset(fmt, tmp_path):
    ds = Dataset(items=[], users=[], events=empty_events(), name="empty")
    ds.write(tmp_path, fmt)
    back = Dataset.read(tmp_path, fmt)
    assert back.events.equals(ds.events) and back.items == [] and back.users == []


def test_rejects_unknown_format(ds, tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        ds.write(tmp_path, "xml")


def test_validate_events_rejects_bad_tables(ds):
    validate_events(ds.events)
    with pytest.raises(ValueError, match="sorted"):
        validate_events(ds.events.take(pa.array(list(range(ds.events.num_rows))[::-1])))
    with pytest.raises(ValueError, match="schema"):
        validate_events(ds.events.drop_columns(["query"]))
