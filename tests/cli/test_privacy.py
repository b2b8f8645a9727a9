"""``tastemaker privacy erase|scan``: an erasure from the command line reaches every file, and
leaves the aggregates a data dir imported without the user would have."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tastemaker import cli
from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.engine import Engine
from tests.features.test_erasure import close, noise

GONE = "user-000007-tm"


def _renamed(table: pa.Table) -> pa.Table:
    """Distinctive user ids (``u7`` -> ``user-000007-tm``), so a byte scan matches nothing else."""
    column = table.schema.get_field_index("user_id" if "user_id" in table.column_names else "id")
    ids = table.column(column).to_pylist()
    return table.set_column(column, table.schema.field(column), pa.array([f"user-{int(u[1:]):06d}-tm" for u in ids]))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("files")
    written = generate(40, 80, 4000, seed=11).write(out / "generated", "parquet")
    events = _renamed(pq.read_table(written["events"]))
    paths = {"items": written["items"], "users": out / "users.parquet", "events": out / "events.parquet",
             "without": out / "without.parquet"}
    pq.write_table(_renamed(pq.read_table(written["users"])), paths["users"])
    pq.write_table(events, paths["events"])
    pq.write_table(events.filter(pc.not_equal(events.column("user_id"), GONE)), paths["without"])
    assert events.filter(pc.equal(events.column("user_id"), GONE)).num_rows > 50
    return paths


def _load(data_dir, files, events: str) -> None:
    for kind, name in (("items", "items"), ("users", "users"), ("events", events)):
        assert cli.main(["import", kind, str(files[name]), "--data-dir", str(data_dir)]) == 0


def _aggregates(data_dir):
    from tests.features.test_erasure import by_id

    engine = Engine(Settings(data_dir=data_dir, durable=False))
    try:
        return by_id(engine.state)
    finally:
        engine.close(snapshot=False)


def test_erase_from_the_cli(tmp_path, files, capsys):
    data, clean = tmp_path / "data", tmp_path / "clean"
    _load(data, files, "events")
    assert cli.main(["train", "--data-dir", str(data)]) == 0  # a model artifact, trained with the user
    Engine(Settings(data_dir=data, durable=False)).close()  # a snapshot that holds them
    capsys.readouterr()
    assert cli.main(["privacy", "scan", GONE, "--data-dir", str(data)]) == 1
    capsys.readouterr()

    before = _aggregates(data)
    assert cli.main(["privacy", "erase", GONE, "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert '"status": "done"' in out and GONE not in out
    assert cli.main(["privacy", "scan", GONE, "--data-dir", str(data)]) == 0  # no file holds the id

    _load(clean, files, "without")
    pop, recent, cov, sums = _aggregates(data)
    pop_r, recent_r, cov_r, sums_r = _aggregates(clean)
    close(pop, pop_r, 1e-9, noise(before[0]))
    close(recent, recent_r, 1e-9, noise(before[1]))
    close(cov, cov_r, 1e-5)
    close(sums, sums_r, 1e-9)

    # a re-import of the original file is refused whole, naming a row of the erased user
    assert cli.main(["import", "events", str(files["events"]), "--data-dir", str(data)]) != 0
    assert "user_id" in capsys.readouterr().err
