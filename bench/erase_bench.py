"""Erasure of one user with many events in a large log: serving effect, background time, byte scan.

    .venv/bin/python bench/erase_bench.py                       # 2M events, a user with 10k of them
    .venv/bin/python bench/erase_bench.py --events 200000 --check  # smaller, and compare with a rebuild

Builds the data set with ``tastemaker generate``, adds ``--target-events`` events of one
distinctive user spread over the whole log (so every bulk-import segment holds some), imports
it with ``tastemaker import`` (segments), opens an engine (replay + snapshot), then erases the
user the way ``DELETE /v1/users/{id}?erase=true`` does: ``begin`` (tombstone, online state)
and the next recommendation, then the background ``run``. Prints each step's time, the byte
scan of the data dir (privacy.scan) and, with ``--check``, the largest difference between the
erased engine's co-visitation/popularity and those of a data dir imported without the user.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.privacy.scan import scan
from tastemaker.serving.request import RecommendationRequest

TARGET = "bench-erase-person-0001"
CLI = str(Path(sys.executable).parent / "tastemaker")


def sh(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL, env={"TASTEMAKER_NO_PROGRESS": "1",
                                                                            "TASTEMAKER_DURABLE": "0", "PATH": ""})
    return time.perf_counter() - started


def with_target(events: pa.Table, n: int, seed: int) -> pa.Table:
    """``events`` plus ``n`` events of TARGET at times spread over the log, sorted by time."""
    rng = np.random.default_rng(seed)
    ts = events.column("timestamp").to_numpy()
    items = events.column("item_id").drop_null().to_numpy(zero_copy_only=False)
    kinds = np.array(["view", "view", "view", "click", "add_to_cart", "purchase"])
    extra = {name: pa.nulls(n, events.schema.field(name).type) for name in events.column_names}
    extra["id"] = pa.array([f"{TARGET}-e{i}" for i in range(n)])
    extra["type"] = pa.array(kinds[rng.integers(len(kinds), size=n)])
    extra["user_id"] = pa.array([TARGET] * n)
    extra["session_id"] = pa.array([f"{TARGET}-s{i // 20}" for i in range(n)])
    extra["item_id"] = pa.array(items[rng.integers(len(items), size=n)])
    extra["timestamp"] = pa.array(np.sort(rng.uniform(ts.min(), ts.max(), n)))
    both = pa.concat_tables([events, pa.table(extra, schema=events.schema)])
    return both.take(pc.sort_indices(both, [("timestamp", "ascending")]))


def top(engine: Engine, user: str) -> list[str]:
    return [i["id"] for i in engine.recommend(RecommendationRequest(user_id=user, n=20))["items"]]


def aggregates(data_dir: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.features.test_erasure import by_id

    engine = Engine(Settings(data_dir=data_dir, durable=False))
    try:
        return by_id(engine.state)
    finally:
        engine.close(snapshot=False)


def max_diff(a: dict, b: dict) -> float:
    """The largest difference of one entry, over the largest value (decayed counts span many
    orders of magnitude; a per-entry ratio would weigh rounding noise of the smallest)."""
    scale = max(max(a.values(), default=0.0), max(b.values(), default=0.0), 1e-300)
    return max((abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in a.keys() | b.keys()), default=0.0) / scale


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--target-events", type=int, default=10_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/erase_bench"))
    ap.add_argument("--check", action="store_true", help="also import the log without the user and compare")
    args = ap.parse_args()
    work = args.work / f"{args.events}"
    shutil.rmtree(work / "data", ignore_errors=True)
    shutil.rmtree(work / "clean", ignore_errors=True)
    gen = work / "gen"
    started = time.perf_counter()
    if not (gen / "events.parquet").exists():
        sh("generate", "--users", str(args.users), "--items", str(args.items), "--events", str(args.events),
           "--seed", "7", "--out", str(gen))
    events = with_target(pq.read_table(gen / "events.parquet"), args.target_events, seed=7)
    pq.write_table(events, work / "events.parquet")
    print(f"data set: {events.num_rows:,} events ({args.target_events:,} of the target), "
          f"{time.perf_counter() - started:.1f}s")
    data = work / "data"
    t_import = sum(sh("import", kind, str(path), "--data-dir", str(data))
                   for kind, path in (("items", gen / "items.parquet"), ("users", gen / "users.parquet"),
                                      ("events", work / "events.parquet")))
    print(f"import: {t_import:.1f}s")
    started = time.perf_counter()
    engine = Engine(Settings(data_dir=data, durable=False))
    engine.processor.maybe_snapshot(force=True)
    print(f"engine open (replay) + snapshot: {time.perf_counter() - started:.1f}s")
    before = scan(data, TARGET)
    print(f"before: {sum(before.values())} occurrences of the id in {sorted(before)}")
    newcomer = "bench-never-seen-0001"
    personal = top(engine, TARGET)

    started = time.perf_counter()
    job = engine.eraser.begin(TARGET)
    after = top(engine, TARGET)
    serving_s = time.perf_counter() - started
    same = after == top(engine, newcomer)
    print(f"serving effect: begin + next recommendation {serving_s * 1000:.1f} ms; "
          f"equals a new user's: {same} (personalised before: {personal != after})")
    started = time.perf_counter()
    engine.eraser.run(job, TARGET)
    background_s = time.perf_counter() - started
    print(f"background completion: {background_s:.1f}s, status {job.status}; steps (cumulative s): "
          + ", ".join(f"{k[:-2]} {v}" for k, v in job.steps.items() if k.endswith("_s") and k != "state_thread_s"))
    print(f"of which on the state's thread (a server's event loop, blocked): {job.steps.get('state_thread_s')}s")
    print(f"removed: events {job.steps.get('events')}, impressions {job.steps.get('impressions')}, "
          f"profile {job.steps.get('profile')}, artifacts holding the id {job.steps.get('artifacts_holding_id')}")
    assert top(engine, TARGET) == top(engine, newcomer)
    engine.close(snapshot=False)
    started = time.perf_counter()
    found = scan(data, TARGET)
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    print(f"byte scan after: {sum(found.values())} occurrences in {len(found)} files "
          f"({size / 2**20:.0f} MiB scanned in {time.perf_counter() - started:.1f}s)")
    if args.check:
        clean = work / "clean"
        pq.write_table(events.filter(pc.not_equal(events.column("user_id"), TARGET)), work / "without.parquet")
        for kind, path in (("items", gen / "items.parquet"), ("users", gen / "users.parquet"),
                           ("events", work / "without.parquet")):
            sh("import", kind, str(path), "--data-dir", str(clean))
        mine, theirs = aggregates(data), aggregates(clean)
        for name, a, b in zip(("popularity", "trending counts", "co-visitation", "co-visitation row sums"), mine, theirs):
            print(f"{name}: {len(a):,} entries after the erasure vs {len(b):,} in the rebuild, "
                  f"largest difference / largest value {max_diff(a, b):.1e}")
    return 0 if not found and job.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
