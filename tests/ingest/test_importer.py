"""ingest.importer: CSV / JSON Lines / Parquet files in, all or nothing, errors naming row and field."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tastemaker.datasets import Dataset, generate
from tastemaker.ingest import importer
from tastemaker.ingest.importer import detect_format, import_documents, import_events
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Item, User
from tastemaker.schema.registry import EventSchema, EventSchemaRegistry

NOW = 1_750_000_000.0
FORMATS = ("csv", "jsonl", "parquet")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(n_users=12, n_items=40, n_events=300, seed=5)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, header: str, *lines: str) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def rows_of(ds: Dataset) -> list[dict]:
    return ds.events.to_pylist()


def import_all(stores, paths: dict[str, Path]) -> tuple[int, int, tuple[int, int]]:
    items = import_documents(stores, "items", paths["items"])
    users = import_documents(stores, "users", paths["users"])
    events = import_events(stores, EventSchemaRegistry(), paths["events"], now=NOW)
    return items, users, events


# -- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt, dataset, stores, tmp_path):
    paths = dataset.write(tmp_path / fmt, fmt=fmt)
    n_events = dataset.events.num_rows
    assert import_all(stores, paths) == (len(dataset.items), len(dataset.users), (n_events, 0))

    for expected in dataset.items:
        got = stores.items.get(expected["id"])
        assert msgspec.to_builtins(got) == msgspec.to_builtins(msgspec.convert(expected, Item)), expected["id"]
    for expected in dataset.users:
        assert stores.users.get(expected["id"]) == msgspec.convert(expected, User)

    logged = {e.id: e for _, e in stores.events.read_since(0, limit=10 * n_events)}
    assert len(logged) == n_events
    for row in rows_of(dataset):
        event = logged[row["id"]]
        assert (event.type, event.user_id, event.session_id, event.item_id, event.query) == (
            row["type"], row["user_id"], row["session_id"], row["item_id"], row["query"],
        )
        assert event.timestamp == pytest.approx(row["timestamp"], abs=1e-6)
        if row["value"] is None:
            assert event.value is None
        else:
            assert event.value == pytest.approx(row["value"])
    # log order follows the file
    assert [e.id for _, e in stores.events.read_since(0, limit=10 * n_events)] == [r["id"] for r in rows_of(dataset)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_reimport_is_all_duplicates(fmt, dataset, stores, tmp_path):
    paths = dataset.write(tmp_path / fmt, fmt=fmt)
    import_all(stores, paths)
    version = stores.items.changes_since(0)[0]
    assert import_events(stores, EventSchemaRegistry(), paths["events"], now=NOW) == (0, dataset.events.num_rows)
    assert stores.events.count() == dataset.events.num_rows
    assert import_documents(stores, "items", paths["items"]) == len(dataset.items)  # upserts: same content
    assert stores.items.count() == len(dataset.items)
    assert stores.items.changes_since(0)[0] > version


def test_progress_is_reported(dataset, stores, tmp_path):
    paths = dataset.write(tmp_path, fmt="parquet")
    seen: list[int] = []
    import_events(stores, EventSchemaRegistry(), paths["events"], progress=seen.append, now=NOW)
    assert sum(seen) == dataset.events.num_rows


def test_missing_id_column_derives_ids_from_file_name_and_row(stores, tmp_path):
    path = write_csv(tmp_path / "clicks.csv", "type,user_id,item_id,timestamp",
                     "view,u1,a,1700000000", "click,u1,a,1700000001", "view,u2,b,2024-01-02T03:04:05Z")
    registry = EventSchemaRegistry()
    assert import_events(stores, registry, path, now=NOW) == (3, 0)
    events = [e for _, e in stores.events.read_since(0)]
    assert [e.id for e in events] == ["clicks.csv:1", "clicks.csv:2", "clicks.csv:3"]
    assert events[2].timestamp == 1_704_164_645.0
    assert import_events(stores, registry, path, now=NOW) == (0, 3)  # a re-import is all duplicates
    copy = tmp_path / "clicks-copy.csv"
    copy.write_bytes(path.read_bytes())
    assert import_events(stores, registry, copy, now=NOW) == (3, 0)  # another file is other events


def test_missing_timestamps_are_now(stores, tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "type": "view", "user_id": "u", "item_id": "i"},
                                              {"id": "b", "type": "view", "user_id": "u", "item_id": "i", "timestamp": None}])
    import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.timestamp for _, e in stores.events.read_since(0)] == [NOW, NOW]


def test_nested_columns(stores, tmp_path):
    jsonl = write_jsonl(tmp_path / "e.jsonl", [
        {"id": "a", "type": "purchase", "user_id": "u", "item_ids": ["x", "y"], "context": {"device": "tv"}, "timestamp": 1e9},
    ])
    csv = write_csv(tmp_path / "e.csv", "id,type,user_id,item_ids,context,timestamp",
                    'b,purchase,u,x|y,"{""device"": ""tv""}",1000000000')
    for path in (jsonl, csv):
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    events = [e for _, e in stores.events.read_since(0)]
    assert [(e.item_ids, e.context) for e in events] == [(["x", "y"], {"device": "tv"})] * 2


# -- errors: row and field named, nothing written ------------------------------------------


def good_rows(n: int) -> list[dict]:
    return [{"id": f"e{i}", "type": "view", "user_id": "u", "item_id": f"i{i % 5}", "timestamp": 1_700_000_000 + i} for i in range(n)]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"type": "rating", "item_id": "a"}, "value"),
        ({"type": "rating", "item_id": "a", "value": "five"}, "value"),
        ({"type": "search"}, "query"),
        ({"type": "teleport"}, "type"),
        ({"type": None}, "type"),
        ({"user_id": None}, "user_id"),
        ({"item_id": None}, "item_id"),
        ({"timestamp": NOW + 2 * 86_400}, "timestamp"),
        ({"timestamp": -5}, "timestamp"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_row_anywhere_rejects_the_file(stores, tmp_path, bad, field):
    rows = good_rows(80)
    rows[56] = {**rows[56], **bad}
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == [f"row 57/{field}"]
    assert stores.events.count() == 0


def test_bad_iso_timestamp_names_row(stores, tmp_path):
    path = write_csv(tmp_path / "e.csv", "id,type,user_id,item_id,timestamp",
                     "a,view,u,i,2024-01-02T03:04:05Z", "b,view,u,i,2024-01-02T03:04:05+01:00", "c,view,u,i,next tuesday")
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == ["row 3/timestamp"]
    assert stores.events.count() == 0


def test_bad_row_in_a_later_batch_rolls_back_earlier_batches(stores, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_ROWS", 25)
    rows = [{**row, "value": None} for row in good_rows(100)]
    rows[90] = {**rows[90], "type": "rating"}
    path = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    seen: list[int] = []
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, progress=seen.append, now=NOW)
    assert [e.field for e in info.value.errors] == ["row 91/value"]
    assert seen == [25, 25, 25]  # three batches went through before the fourth failed
    assert stores.events.count() == 0
    rows[90]["value"] = 4.0
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert import_events(stores, EventSchemaRegistry(), path, now=NOW) == (100, 0)


def test_required_columns(stores, tmp_path):
    path = write_csv(tmp_path / "e.csv", "id,user_id", "a,u")
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == ["type"]
    path = write_csv(tmp_path / "f.csv", "id,type,user_id", "a,view,u")
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == ["row 1/item_id"]


def test_custom_types_need_a_registered_schema(stores, tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", [{"id": "a", "type": "wishlist", "user_id": "u", "item_id": "i"}])
    with pytest.raises(ValidationFailed):
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    registry = EventSchemaRegistry()
    registry.register(EventSchema(type="wishlist", requires=["item"]))
    assert import_events(stores, registry, path, now=NOW) == (1, 0)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (["a,1", "b,-1", "c,2"], "row 2/stock"),
        (["a,1", "b,2", "c,many"], "row 3/stock"),
        (["a,1", "a,2"], "row 2/id"),
    ],
)
def test_bad_item_rows_name_row_and_field(stores, tmp_path, lines, field):
    path = write_csv(tmp_path / "items.csv", "id,stock", *lines)
    with pytest.raises(ValidationFailed) as info:
        import_documents(stores, "items", path)
    assert [e.field for e in info.value.errors] == [field]
    assert stores.items.count() == 0


def test_item_timestamps_and_lists_from_csv(stores, tmp_path):
    path = write_csv(tmp_path / "items.csv", "id,categories,tags,created_at,properties",
                     'a,shoes|sale,new,1931-05-01T00:00:00Z,"{""color"": ""red""}"',
                     "b,,,1700000000.5,",
                     "c,hats,,yesterday,")
    with pytest.raises(ValidationFailed) as info:
        import_documents(stores, "items", path)
    assert [e.field for e in info.value.errors] == ["row 3/created_at"]
    assert stores.items.count() == 0
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n")
    assert import_documents(stores, "items", path) == 2
    assert stores.items.get("a") == Item(id="a", categories=["shoes", "sale"], tags=["new"], created_at=-1_220_400_000.0,
                                         properties={"color": "red"})
    assert stores.items.get("b").created_at == 1_700_000_000.5


def test_bad_json_object_in_csv_names_row(stores, tmp_path):
    path = write_csv(tmp_path / "users.csv", "id,traits", 'u1,"{}"', "u2,not json")
    with pytest.raises(ValidationFailed) as info:
        import_documents(stores, "users", path)
    assert [e.field for e in info.value.errors] == ["row 2/traits"]
    assert stores.users.count() == 0


# -- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("e.csv", "csv"), ("e.tsv", "csv"), ("e.jsonl", "jsonl"), ("e.ndjson", "jsonl"), ("e.json", "jsonl"),
     ("e.parquet", "parquet"), ("E.CSV", "csv"), ("e.jsonl.gz", "jsonl")],
)
def test_detect_format(name, fmt):
    assert detect_format(Path(name)) == fmt
    assert detect_format(Path("whatever.bin"), "parquet") == "parquet"


def test_unknown_format():
    with pytest.raises(ValueError, match="cannot tell the format of data.bin"):
        detect_format(Path("data.bin"))


def test_tsv(stores, tmp_path):
    path = tmp_path / "e.tsv"
    path.write_text("id\ttype\tuser_id\titem_id\ttimestamp\na\tview\tu\ti\t1700000000\n")
    assert import_events(stores, EventSchemaRegistry(), path, now=NOW) == (1, 0)
    assert math.isclose(stores.events.read_since(0)[0][1].timestamp, 1.7e9)


def test_non_number_among_numbers_in_csv_names_row(stores, tmp_path):
    path = write_csv(tmp_path / "r.csv", "id,type,user_id,item_id,value",
                     "a,rating,u,i,4", "b,rating,u,i,3.5", "c,rating,u,i,five", "d,rating,u,i,1")
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == ["row 3/value"]
    assert stores.events.count() == 0


def test_mixed_epoch_and_iso_timestamps_in_csv(stores, tmp_path):
    path = write_csv(tmp_path / "e.csv", "id,type,user_id,item_id,timestamp",
                     "a,view,u,i,1704164645", "b,view,u,i,2024-01-02T04:04:05+01:00", "c,view,u,i,2024-01-02T03:04:05")
    assert import_events(stores, EventSchemaRegistry(), path, now=NOW) == (3, 0)
    assert [e.timestamp for _, e in stores.events.read_since(0)] == [1_704_164_645.0] * 3


def test_jsonl_column_changing_type_is_refused_and_writes_nothing(stores, tmp_path):
    # Arrow's JSON reader refuses a column whose type changes between rows, before any row is validated.
    rows = good_rows(5)
    rows[3]["timestamp"] = "2024-01-02T03:04:05Z"
    path = write_jsonl(tmp_path / "e.jsonl", rows)
    with pytest.raises((ValidationFailed, ValueError)):
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert stores.events.count() == 0


@pytest.mark.parametrize("line, reason", [
    ("b,rating,u,i,11", "must be <= 5 ('rating' values range from 0 to 5)"),
    ("b,rating,u,i,1e308", "must be <= 5 ('rating' values range from 0 to 5)"),
    ("b,purchase,u,i,1e308", "must be between -1e+12 and 1e+12"),
    ("b,view,u,i,inf", "must be a finite number"),
])
def test_imported_values_are_checked_like_posted_ones(stores, tmp_path, line, reason):
    path = write_csv(tmp_path / "e.csv", "id,type,user_id,item_id,value", "a,rating,u,i,4", line)
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert [e.field for e in info.value.errors] == ["row 2/value"]
    assert info.value.errors[0].reason.startswith(reason)
    assert stores.events.count() == 0


def test_imported_misspelt_type_gets_the_hint(stores, tmp_path):
    path = write_csv(tmp_path / "e.csv", "id,type,user_id,item_id", "a,view,u,i", "b,veiw,u,i")
    with pytest.raises(ValidationFailed) as info:
        import_events(stores, EventSchemaRegistry(), path, now=NOW)
    assert info.value.errors[0].field == "row 2/type" and "did you mean 'view'?" in info.value.errors[0].reason


def test_pseudonymized_import_stores_only_pseudonyms(stores, tmp_path):
    pseudonymize = {"ada": "p1:k:1", "bob": "p1:k:2"}.__getitem__  # privacy.pseudonyms in production
    events = write_jsonl(tmp_path / "e.jsonl", [{"id": f"e{k}", "type": "view", "user_id": u, "item_id": "i1"}
                                                for k, u in enumerate(["ada", "bob", "ada"])])
    users = write_jsonl(tmp_path / "u.jsonl", [{"id": "ada", "traits": {"tier": "gold"}}])
    gone = {"bob"}
    with pytest.raises(ValidationFailed, match="erased"):  # the tombstone check sees the file's raw ids
        import_events(stores, EventSchemaRegistry(), events, now=NOW, pseudonymize=pseudonymize,
                      erased=lambda ids: [i for i in ids if i in gone])
    assert import_events(stores, EventSchemaRegistry(), events, now=NOW, pseudonymize=pseudonymize) == (3, 0)
    assert import_documents(stores, "users", users, pseudonymize=pseudonymize) == 1
    assert [len(stores.events.events_for_user(u)) for u in ("p1:k:1", "p1:k:2", "ada")] == [2, 1, 0]
    assert stores.users.get("p1:k:1").traits == {"tier": "gold"} and stores.users.get("ada") is None
