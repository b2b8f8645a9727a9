"""The raw SQLite ceiling for durable ingest (issue 14): what any Python service could do.

For each batch body (the very bytes the server is sent): stdlib ``json.loads``, one
``executemany`` into a simple WAL-mode events table, and a commit with
``synchronous=FULL`` (an fsync per batch, like the server's durable ack). One client, one
connection, no validation, no dedupe, no online state: the server's durable ingest is
reported as a ratio to this figure, measured in the same run on the same disk.

    .venv/bin/python bench/sqlite_ceiling.py --events 100000 --batch 10000 --dir /tmp/x
"""

from __future__ import annotations

import argparse
import itertools
import json
import sqlite3
import sys
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT,
    ts REAL,
    value REAL
)
"""
INSERT = "INSERT INTO events (id, type, user_id, item_id, ts, value) VALUES (?, ?, ?, ?, ?, ?)"


def sqlite_ceiling(bodies: list[bytes], db_path: Path, seconds: float, min_seconds: float = 2.0) -> dict:
    """Parse + insert + durable commit per body; events/s.

    Runs through ``bodies`` once, and again from the start while less than ``min_seconds``
    have passed (a smoke run's few batches take a fraction of a second: too short a sample;
    the table has no unique key, so a repeated body costs what it cost the first time);
    stops at ``seconds`` in any case. The database file is created fresh (and removed
    afterwards) so every run starts alike.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(SCHEMA)
        events = batches = 0
        start = time.perf_counter()
        deadline = start + seconds
        for body in itertools.cycle(bodies):
            now = time.perf_counter()
            if now >= deadline or (batches >= len(bodies) and now - start >= min_seconds):
                break
            rows = [(e["id"], e["type"], e["user_id"], e.get("item_id"), e.get("timestamp"), e.get("value"))
                    for e in json.loads(body)]
            conn.execute("BEGIN")
            conn.executemany(INSERT, rows)
            conn.execute("COMMIT")  # synchronous=FULL: the WAL is fsynced before this returns
            events += len(rows)
            batches += 1
        elapsed = max(time.perf_counter() - start, 1e-9)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
    return {"events": events, "batches": batches, "distinct_bodies": len(bodies), "elapsed_s": elapsed,
            "events_per_s": events / elapsed}


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from uniform_shape import event_bodies

    p = argparse.ArgumentParser(description="raw SQLite durable-ingest ceiling")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--dir", required=True, help="directory for the scratch database")
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args(argv)
    bodies = event_bodies(args.events, args.batch, 50_000, 100_000, tag="ceiling")
    print(json.dumps(sqlite_ceiling(bodies, Path(args.dir) / "ceiling.sqlite", min(args.seconds, 300)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
