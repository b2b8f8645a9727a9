"""storage.postgres.artifacts: values split into chunks and joined back exactly."""

from __future__ import annotations

import pytest

from tastemaker.storage.postgres import artifacts


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 35])
def test_values_across_chunk_boundaries_round_trip(pg, monkeypatch, size):
    monkeypatch.setattr(artifacts, "CHUNK", 10)
    value = bytes(range(size))
    pg.artifacts.put("a/b", value)
    assert pg.artifacts.get("a/b") == value
    pg.artifacts.put_stream("a/c", lambda fh: fh.write(value))
    with pg.artifacts.open("a/c") as fh:
        assert fh.read() == value
    with pg.artifacts.db.connection() as conn:
        n = conn.execute("SELECT COUNT(*) FROM artifact_chunks WHERE key = 'a/b'").fetchone()[0]
    assert n == -(-size // 10)
    pg.artifacts.put("a/b", b"x")  # a shorter value leaves no old chunk behind
    assert pg.artifacts.get("a/b") == b"x"


def test_list_is_in_code_point_order_like_the_local_store(pg):
    for key in ("m/b", "m/B", "m/é", "m/a_", "n/a"):
        pg.artifacts.put(key, b"")
    assert pg.artifacts.list("m/") == sorted(["m/b", "m/B", "m/é", "m/a_"])
    assert pg.artifacts.list("m/a%") == []  # the prefix is text, not a LIKE pattern
