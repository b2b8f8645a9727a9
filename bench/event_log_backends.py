"""Durable ingest through the event log: NATS JetStream vs the embedded SQLite log, same machine.

The same events go to both backends' ``EventLog.append`` (the call ingest makes), in
alternating rounds so drift on a shared box hits both:

1. Batches: ``--batches`` batches of ``--batch-size`` new view events each (random users
   and items, a small context), appends/s of each backend and the ratio JetStream / SQLite.
   SQLite runs ``durable=True`` (``synchronous=FULL``, the embedded default: fsync per
   commit) and ``durable=False`` (``NORMAL``) for reference; JetStream is one file-backed
   stream with the replicas of ``--replicas``.
2. Single events: ``--singles`` appends of one event each, latency p50/p99 per backend.
3. The thread hand-off the JetStream log pays per call (``LoopThread.call`` of a coroutine
   that does nothing): p50/p99.

    .venv/bin/python bench/event_log_backends.py                         # ~1 minute
    .venv/bin/python bench/event_log_backends.py --batches 3 --singles 300   # smoke

Needs NATS with JetStream at ``--nats`` (default nats://127.0.0.1:4222).
Writes bench/results/event_log_backends-<stamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_DIR, dump_json, hardware_info, percentiles  # noqa: E402

from tastemaker.schema.records import Event  # noqa: E402
from tastemaker.storage.nats.events import NatsEventLog  # noqa: E402
from tastemaker.storage.nats.jetstream import StreamSpec  # noqa: E402
from tastemaker.storage.nats.loop import LoopThread  # noqa: E402
from tastemaker.storage.sqlite import Database  # noqa: E402
from tastemaker.storage.sqlite.events import SQLiteEventLog  # noqa: E402


def make_events(rng: random.Random, prefix: str, n: int) -> list[Event]:
    now = time.time()
    return [Event(id=f"{prefix}-{i}", type="view", user_id=f"u{rng.randrange(100_000)}",
                  item_id=f"i{rng.randrange(20_000)}", timestamp=now, context={"device": "mobile"})
            for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=10, help="batches per backend")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=2_000, help="single-event appends per backend")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stream = f"BENCH_{uuid.uuid4().hex[:12]}"
    tmp = Path(tempfile.mkdtemp(prefix="event-log-bench-"))
    dbs = {"sqlite_full": Database(tmp / "full.db", durable=True), "sqlite_normal": Database(tmp / "normal.db", durable=False)}
    logs = {name: SQLiteEventLog(db) for name, db in dbs.items()}
    jet = NatsEventLog(args.nats, StreamSpec(name=stream, subject_prefix=f"bench.{stream}", replicas=args.replicas))
    logs["jetstream"] = jet  # type: ignore[assignment]
    rates: dict[str, list[float]] = {name: [] for name in logs}
    singles: dict[str, list[float]] = {name: [] for name in logs}
    try:
        for b in range(args.batches):
            batch = make_events(rng, f"b{b}", args.batch_size)
            for name, log in logs.items():
                start = time.perf_counter()
                result = log.append(batch)
                elapsed = time.perf_counter() - start
                assert len(result.accepted) == len(batch), (name, result.duplicates)
                rates[name].append(len(batch) / elapsed)
        for i in range(args.singles):
            [event] = make_events(rng, f"s{i}", 1)
            for name, log in logs.items():
                start = time.perf_counter()
                log.append([event])
                singles[name].append((time.perf_counter() - start) * 1e3)
        loop = LoopThread("bench")
        hops = []
        for _ in range(args.singles):
            start = time.perf_counter()
            loop.call(asyncio.sleep(0))
            hops.append((time.perf_counter() - start) * 1e6)
        loop.close()
        counts = {name: log.count() for name, log in logs.items()}
    finally:
        jet.delete_stream()
        jet.close()
        for db in dbs.values():
            db.close()
    median = {name: sorted(r)[len(r) // 2] for name, r in rates.items()}
    result = {
        "appends_per_s_median": median,
        "appends_per_s_all": rates,
        "ratio_jetstream_vs_sqlite_full": median["jetstream"] / median["sqlite_full"],
        "ratio_jetstream_vs_sqlite_normal": median["jetstream"] / median["sqlite_normal"],
        "single_append_ms": {name: percentiles(v, (50, 99)) for name, v in singles.items()},
        "loop_hop_us": percentiles(hops, (50, 99)),
        "counts": counts,
    }
    for name, rate in median.items():
        single = result["single_append_ms"][name]
        print(f"{name:14s} {rate:10,.0f} appends/s ({args.batch_size:,}-event batches, median of {args.batches}); "
              f"single event p50 {single['p50']:.3f} ms p99 {single['p99']:.3f} ms")
    print(f"JetStream / SQLite FULL: {result['ratio_jetstream_vs_sqlite_full']:.2f} x; "
          f"/ SQLite NORMAL: {result['ratio_jetstream_vs_sqlite_normal']:.2f} x")
    print(f"loop thread hand-off: p50 {result['loop_hop_us']['p50']:.1f} us p99 {result['loop_hop_us']['p99']:.1f} us")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dump_json({"bench": "event_log_backends", "args": vars(args), "hardware": hardware_info(), **result},
              BENCH_DIR / "results" / f"event_log_backends-{stamp}.json")


if __name__ == "__main__":
    main()
