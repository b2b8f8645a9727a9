"""``tastemaker import`` and ``tastemaker generate`` (cli/data.py): in-process and as real processes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tastemaker import cli
from tastemaker.config import Settings
from tastemaker.storage.factory import open_stores
from tests.cli.helpers import N_EVENTS, N_ITEMS, N_USERS, db_rows, run


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_import_items_users_events(tmp_path, dataset, capsys, fmt):
    paths = dataset.write(tmp_path / "files", fmt)
    data = tmp_path / "data"
    assert cli.main(["import", "items", str(paths["items"]), "--data-dir", str(data)]) == 0
    assert f"{N_ITEMS} items upserted" in capsys.readouterr().out
    assert cli.main(["import", "users", str(paths["users"]), "--data-dir", str(data)]) == 0
    assert f"{N_USERS} users upserted" in capsys.readouterr().out
    assert cli.main(["import", "events", str(paths["events"]), "--data-dir", str(data)]) == 0
    assert f"{N_EVENTS} events imported, 0 duplicates skipped" in capsys.readouterr().out
    assert db_rows(data, "events") == N_EVENTS
    assert db_rows(data, "items") == N_ITEMS
    assert db_rows(data, "users") == N_USERS

    stores = open_stores(Settings(data_dir=data, durable=False))
    try:
        # records round-trip: lists, objects and numbers survive every format
        want = dataset.items[7]
        got = stores.items.get(want["id"])
        assert got.categories == want["categories"] and got.tags == want["tags"]
        assert got.brand == want["brand"] and got.stock == want["stock"]
        assert got.price == pytest.approx(want["price"]) and got.properties == want["properties"]
        assert got.created_at == pytest.approx(want["created_at"])
        user = stores.users.get(dataset.users[3]["id"])
        assert user.traits == dataset.users[3]["traits"] and user.consent == dataset.users[3]["consent"]
    finally:
        stores.close()

    # importing the same file again skips every event as a duplicate
    assert cli.main(["import", "events", str(paths["events"]), "--data-dir", str(data)]) == 0
    assert f"0 events imported, {N_EVENTS} duplicates skipped" in capsys.readouterr().out
    assert db_rows(data, "events") == N_EVENTS


def test_imported_events_are_served(tmp_path, dataset):
    from starlette.testclient import TestClient

    from tastemaker.api.app import build_app
    from tastemaker.engine import Engine

    paths = dataset.write(tmp_path / "files", "parquet")
    data = tmp_path / "data"
    for kind in ("items", "users", "events"):
        assert cli.main(["import", kind, str(paths[kind]), "--data-dir", str(data)]) == 0
    app = build_app(Engine(Settings(data_dir=data, admin_key="k", durable=False)))
    with TestClient(app, headers={"Authorization": "Bearer k"}) as c:
        assert c.get("/readyz").json()["log_seq"] == N_EVENTS
        user = pq.read_table(paths["events"]).column("user_id")[0].as_py()
        profile = c.get(f"/v1/users/{user}").json()
        assert profile["activity"]["event_count"] > 0
        items = c.get("/v1/recommendations", params={"user_id": user, "n": 5}).json()["items"]
        assert len(items) == 5


def _write_items_csv(path: Path, rows: list[str]) -> None:
    path.write_text('"id","title","price","stock","categories"\n' + "\n".join(rows) + "\n")


def test_bad_item_row_is_refused_and_nothing_imported(tmp_path, capsys):
    path = tmp_path / "items.csv"
    _write_items_csv(path, ['"a","A",1.5,3,"x|y"', '"b","B",2,1,"x"', '"c","C",-5,1,"x"', '"d","D",1,1,"x"'])
    data = tmp_path / "data"
    assert cli.main(["import", "items", str(path), "--data-dir", str(data)]) != 0
    err = capsys.readouterr().err
    assert "row 3" in err and "price" in err, err
    assert "nothing was written" in err
    assert db_rows(data, "items") == 0


def test_bad_item_stock_in_jsonl(tmp_path, capsys):
    path = tmp_path / "items.jsonl"
    rows = [{"id": "a", "stock": 2}, {"id": "b", "stock": -1}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = tmp_path / "data"
    assert cli.main(["import", "items", str(path), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "stock" in err, err
    assert db_rows(data, "items") == 0


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"type": "teleport"}, "type"),
        ({"type": "rating", "value": None}, "value"),
        ({"user_id": None}, "user_id"),
        ({"timestamp": "the day after tomorrow"}, "timestamp"),
        ({"type": "search", "item_id": "i1", "query": None}, "query"),
    ],
)
def test_bad_event_row_is_refused_and_nothing_imported(tmp_path, capsys, bad, field):
    rows = [{"id": f"e{k}", "type": "view", "user_id": "u1", "item_id": "i1", "value": 1.0, "query": "q",
             "timestamp": "2021-01-01T00:00:00"} for k in range(6)]
    rows[4].update(bad)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = tmp_path / "data"
    code = cli.main(["import", "events", str(path), "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert code != 0
    assert "row 5" in err and field in err, err
    assert db_rows(data, "events") == 0


def test_bad_event_value_names_the_row(tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text('id,type,user_id,item_id,value\ne1,rating,u1,i1,4\ne2,rating,u1,i2,five\ne3,rating,u1,i3,3\n')
    data = tmp_path / "data"
    assert cli.main(["import", "events", str(path), "--data-dir", str(data)]) != 0
    err = capsys.readouterr().err
    assert "value" in err and "row 2" in err, err
    assert db_rows(data, "events") == 0


def test_import_errors_for_missing_or_unknown_files(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert cli.main(["import", "events", str(tmp_path / "missing.csv"), "--data-dir", data]) == 2
    assert "no such file" in capsys.readouterr().err
    odd = tmp_path / "events.xlsx"
    odd.write_text("x")
    assert cli.main(["import", "events", str(odd), "--data-dir", data]) == 1
    assert "--format" in capsys.readouterr().err
    assert cli.main(["import", "items", "--data-dir", data]) == 2


def test_events_without_ids_get_stable_ids_from_file_and_row(tmp_path, capsys):
    path = tmp_path / "clicks.csv"
    path.write_text("type,user_id,item_id\nview,u1,i1\nclick,u1,i2\n")
    data = str(tmp_path / "data")
    assert cli.main(["import", "events", str(path), "--data-dir", data]) == 0
    assert "2 events imported" in capsys.readouterr().out
    assert cli.main(["import", "events", str(path), "--data-dir", data]) == 0
    assert "0 events imported, 2 duplicates skipped" in capsys.readouterr().out


@pytest.mark.slow
def test_import_movielens_real_process(tmp_path):
    data = tmp_path / "data"
    code, out, err = run("import", "movielens", "--data-dir", str(data))
    assert code == 0, err
    assert "'events': 100000" in out
    assert db_rows(data, "events") == 100_000
    assert db_rows(data, "items") == 1682
    assert db_rows(data, "users") == 943


def test_import_events_real_process(tmp_path, dataset):
    paths = dataset.write(tmp_path / "files", "csv")
    data = tmp_path / "data"
    code, out, err = run("import", "events", str(paths["events"]), "--data-dir", str(data))
    assert code == 0, err
    assert f"{N_EVENTS} events imported" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,type,user_id,item_id\nx1,view,u1,i1\nx2,nonsense,u1,i1\n")
    code, out, err = run("import", "events", str(bad), "--data-dir", str(data))
    assert code == 1
    assert "row 2" in err and "type" in err
    assert db_rows(data, "events") == N_EVENTS


@pytest.mark.parametrize("fmt, ext", [("parquet", "parquet"), ("csv", "csv"), ("jsonl", "jsonl")])
def test_generate_writes_files(tmp_path, capsys, fmt, ext):
    out = tmp_path / "gen"
    assert cli.main(["generate", "--users", "15", "--items", "30", "--events", "400", "--format", fmt, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "generated 400 events, 30 items, 15 users" in printed
    for kind in ("items", "users", "events"):
        path = out / f"{kind}.{ext}"
        assert path.exists() and path.stat().st_size > 0
        assert str(path) in printed
    if fmt == "parquet":
        assert pq.read_table(out / "events.parquet").num_rows == 400
        assert pq.read_table(out / "items.parquet").num_rows == 30
    elif fmt == "jsonl":
        assert len((out / "events.jsonl").read_text().splitlines()) == 400
    # what generate writes, import reads
    assert cli.main(["import", "events", str(out / f"events.{ext}"), "--data-dir", str(tmp_path / "d")]) == 0
    assert db_rows(tmp_path / "d", "events") == 400


def test_generate_is_deterministic_by_seed(tmp_path):
    for name in ("a", "b"):
        assert cli.main(["generate", "--users", "10", "--items", "20", "--events", "200", "--seed", "5", "--format", "jsonl",
                         "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a" / "events.jsonl").read_text() == (tmp_path / "b" / "events.jsonl").read_text()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_import_bar_knows_its_total(tmp_path, dataset, fmt):
    paths = dataset.write(tmp_path / "files", fmt)
    data = str(tmp_path / "data")
    code, out, err = run("import", "events", str(paths["events"]), "--data-dir", data, progress=True)
    assert code == 0, err
    assert f"{N_EVENTS} events imported" in out
    # counted before importing: the first frame already shows the total
    assert re.search(rf"import events:   0%\|\s+\| 0(\.00)?/{N_EVENTS} \[", err)  # tqdm scales 0 as 0.00
    assert "import events: 100%|" in err and f"| {N_EVENTS}/{N_EVENTS} [" in err
    code, out, err = run("import", "items", str(paths["items"]), "--data-dir", data, "--quiet", progress=True)
    assert code == 0
    assert err == "" and f"{N_ITEMS} items upserted" in out


def test_imports_are_audited_and_a_refused_one_is_not(tmp_path, dataset, capsys):
    paths = dataset.write(tmp_path / "files", "jsonl")
    data = tmp_path / "data"
    for kind in ("items", "events"):
        assert cli.main(["import", kind, str(paths[kind]), "--data-dir", str(data)]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "e", "type": "teleport", "user_id": "u"}) + "\n")
    assert cli.main(["import", "events", str(bad), "--data-dir", str(data)]) != 0
    capsys.readouterr()
    with open_stores(Settings(data_dir=data, durable=False)) as stores:
        got = [(r.actor.split(":")[0], r.action, r.target, r.summary["file"], r.summary["rows"])
               for r in stores.audit.read(descending=False)]
    assert got == [("cli", "data.import", "items", paths["items"].name, N_ITEMS),
                   ("cli", "data.import", "events", paths["events"].name, N_EVENTS)]
