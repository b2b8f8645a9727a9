"""Hot store reads on both deployments: the embedded SQLite stores vs the distributed PostgreSQL
ones (psycopg 3 pool, same machine, TCP on localhost), per operation, in process.

1. Both backends get the same ``--items`` items, ``--users`` users and ``--keys`` API keys.
2. Operations, each ``--ops`` times per backend, backends alternating in rounds of 500 so drift
   on a shared box hits both: ``items.get``, ``users.get`` and ``keys.find`` of random known ids
   (the request path's lookups), ``users.change_token`` (read on every recommendation request;
   a shared memory map on SQLite, one query on PostgreSQL), and ``items.upsert`` of one item
   (a write, for reference; SQLite durable = fsync per commit, PostgreSQL with its defaults).
3. p50/p99 in microseconds per backend and the ratios PostgreSQL / SQLite.

    .venv/bin/python bench/store_backends.py                  # ~30 s
    .venv/bin/python bench/store_backends.py --ops 1000       # smoke

Needs PostgreSQL at ``--postgres`` (a schema ``bench_<random>`` is created there and dropped).
Writes bench/results/store_backends-<stamp>.json.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_DIR, dump_json, hardware_info, percentiles  # noqa: E402

from tastemaker.config import Settings  # noqa: E402
from tastemaker.schema.records import Item, User  # noqa: E402
from tastemaker.storage.factory import Stores, open_stores  # noqa: E402

ROUND = 500


def fill(stores: Stores, args: argparse.Namespace) -> None:
    for lo in range(0, args.items, 1000):
        stores.items.upsert([Item(id=f"i{i}", title=f"Item {i}", categories=["c"], price=1.0 + i % 50, stock=5,
                                  tags=["t1", "t2"]) for i in range(lo, min(lo + 1000, args.items))])
    for lo in range(0, args.users, 1000):
        stores.users.upsert([User(id=f"u{i}", traits={"segment": i % 7}, consent={"personalization": True})
                             for i in range(lo, min(lo + 1000, args.users))])
    for i in range(args.keys):
        stores.keys.create(f"key {i}", frozenset({"read"}), f"hash{i}", f"k{i}")


def operations(args: argparse.Namespace, rng: random.Random):
    return {
        "items.get": lambda s: s.items.get(f"i{rng.randrange(args.items)}"),
        "users.get": lambda s: s.users.get(f"u{rng.randrange(args.users)}"),
        "keys.find": lambda s: s.keys.find(f"k{rng.randrange(args.keys)}"),
        "users.change_token": lambda s: s.users.change_token(),
        "items.upsert(1)": lambda s: s.items.upsert([Item(id=f"i{rng.randrange(args.items)}", title="changed")]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--ops", type=int, default=5000, help="calls per operation per backend (reads)")
    ap.add_argument("--writes", type=int, default=1000, help="items.upsert(1) calls per backend")
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in args.postgres else "?"
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        backends = {
            "sqlite": open_stores(Settings(data_dir=Path(tmp) / "embedded", backend="embedded", durable=True)),
            "postgres": open_stores(Settings(data_dir=Path(tmp) / "distributed", backend="distributed", durable=True,
                                             postgres_url=f"{args.postgres}{sep}schema={schema}")),
        }
        try:
            for name, stores in backends.items():
                t = time.perf_counter()
                fill(stores, args)
                print(f"filled {name}: {args.items} items, {args.users} users, {args.keys} keys in "
                      f"{time.perf_counter() - t:.1f} s", flush=True)
            samples: dict[str, dict[str, list[float]]] = {}
            for op, call in operations(args, rng).items():
                n = args.writes if op.startswith("items.upsert") else args.ops
                per = samples.setdefault(op, {b: [] for b in backends})
                for name, stores in backends.items():
                    for _ in range(50):  # warm: prepared statements, pool, page cache
                        call(stores)
                done = 0
                while done < n:
                    k = min(ROUND, n - done)
                    for name, stores in backends.items():
                        times = per[name]
                        for _ in range(k):
                            t = time.perf_counter_ns()
                            call(stores)
                            times.append((time.perf_counter_ns() - t) / 1000)
                    done += k
        finally:
            for stores in backends.values():
                stores.close()
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    result: dict[str, dict] = {}
    print(f"{'operation':22} {'sqlite p50/p99 us':>20} {'postgres p50/p99 us':>22} {'ratio p50':>10} {'ratio p99':>10}")
    for op, per in samples.items():
        s, p = percentiles(per["sqlite"]), percentiles(per["postgres"])
        result[op] = {"sqlite_us": s, "postgres_us": p, "ratio_p50": p["p50"] / s["p50"], "ratio_p99": p["p99"] / s["p99"]}
        print(f"{op:22} {s['p50']:9.1f}/{s['p99']:9.1f} {p['p50']:10.1f}/{p['p99']:10.1f} "
              f"{p['p50'] / s['p50']:10.1f} {p['p99'] / s['p99']:10.1f}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = BENCH_DIR / "results" / f"store_backends-{stamp}.json"
    dump_json({"bench": "store_backends", "args": vars(args), "hardware": hardware_info(), "operations": result}, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
