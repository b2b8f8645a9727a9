"""In-process cost of a whole recommendation through a configured placement (issue 4).

Opens the engine on an existing data dir (as ``tastemaker serve`` does) with a placement
file of its own (the data dir's placements are left alone) and times
``Engine.recommend`` (catch up, then the pipeline) per request, for random users, for:

* ``home``: the built-in placement (no rules, ranker, diversity: the stages are skipped);
* ``bench-rules-mmr``: rules (filters, boosts, a pin, caps, margin) + MMR over categories;
* ``bench-full``: the same + the learned ranker (LambdaMART, 50 trees x 15 leaves, trained
  here on a synthetic log) + popularity discount + minimum brand exposure + impression
  logging (rows written by the background flusher);
* ``bench-full`` with ``explain=true``.

The ranking stages see a pool of ``--pool`` candidates (100 by default). Requests of the
kinds are interleaved so they share the same machine noise; besides wall-clock percentiles
it reports the request thread's CPU time, which other processes on a busy machine do not
inflate.

    .venv/bin/python bench/placements_bench.py --data-dir /tmp/tm/data --calls 3000

The data dir must not be in use by a running server (the snapshot may be rewritten).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import percentiles  # noqa: E402

PLACEMENTS = """
placements:
  bench-rules-mmr:
    sources: &sources
      covisitation: 1.0
      category_affinity: {weight: 0.35, n: 60}
      user_model: {weight: 0.3, n: 100}
      trending: {weight: 0.15, n: 100}
      context_popular: {weight: 0.2, n: 100}
    diversity: {lambda: 0.3}
    rules: &rules
      - filter: in_stock
      - filter: price
        max: 400
      - where: 'margin > 0.02 and not ("hidden" in tags)'
      - boost: '"premium" in tags'
        factor: 1.5
      - bury: 'age > 300d'
        factor: 0.8
      - pin: {pin}
        position: 1
      - cap: brand
        max: 2
      - cap: category
        max: 3
      - margin: 0.2
  bench-full:
    sources: *sources
    ranker: ltr
    diversity: {lambda: 0.3}
    fairness:
      popularity_penalty: 0.2
      min_exposure: {brand: {"{brand}": 0.1}}
    rules: *rules
"""


def synthetic_ranker() -> bytes:
    """A 50-tree LambdaMART fitted on synthetic features (for its serving cost), as stored."""
    from tastemaker.ranking.features import FEATURE_NAMES
    from tastemaker.ranking.ltr import LTRRanker, TrainingSet

    rng = np.random.default_rng(0)
    X = rng.random((20_000, len(FEATURE_NAMES)))
    y = (X[:, 0] + X[:, FEATURE_NAMES.index("margin")] + 0.3 * rng.random(20_000) > 1.2).astype(np.int32)
    return LTRRanker.train(TrainingSet(X, y, np.full(200, 100), np.arange(200.0)), rounds=50).to_bytes()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--calls", type=int, default=3000, help="requests per kind")
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--pool", type=int, default=100, help="candidates the ranking stages see")
    p.add_argument("--n", type=int, default=10)
    args = p.parse_args(argv)

    import tastemaker.serving.recommender as recommender_module
    from tastemaker.config import Settings
    from tastemaker.engine import Engine
    from tastemaker.serving.impressions import ImpressionLogger
    from tastemaker.serving.rankers import RankerSet
    from tastemaker.storage.factory import open_stores
    from tastemaker.storage.sqlite import Database
    from tastemaker.storage.sqlite.impressions import SQLiteImpressionLog
    from tastemaker.serving.request import parse_request

    recommender_module.POOL = args.pool
    tmp = Path(tempfile.mkdtemp(prefix="placements-bench-"))
    settings = Settings(data_dir=Path(args.data_dir), placements_file=tmp / "placements.yaml")
    settings.placements_file.write_text("placements: {}\n")
    engine = Engine(settings)
    state = engine.state
    pin = state.index.ids[int(np.argmax(state.popularity_scores()))]
    brand = max(state.catalog.brand_members, key=lambda b: len(state.catalog.brand_members[b]), default="none")
    settings.placements_file.write_text(PLACEMENTS.replace("{pin}", pin).replace("{brand}", brand))
    engine.recommender.placements.reload()
    scratch = open_stores(Settings(data_dir=tmp)).artifacts  # not the data dir's
    scratch.put(RankerSet.key("bench-full"), synthetic_ranker())
    engine.recommender.rankers = RankerSet(scratch)
    # impressions go to a scratch database (durable: an fsync per flushed batch), not the data dir's
    engine.recommender.impressions.close()
    engine.recommender.impressions = ImpressionLogger(SQLiteImpressionLog(Database(tmp / "impressions.db")))

    import gc

    gc.collect()
    gc.freeze()  # as the server does after start (tastemaker.heap.freeze_heap)
    rng = random.Random(1)
    users = [f"anon-{rng.randrange(10**9)}" if rng.randrange(100) < 5 else f"u{rng.randrange(args.users)}"
             for _ in range(args.calls)]
    kinds = {
        "home (built-in, stages skipped)": {"placement": "home"},
        "rules + MMR": {"placement": "bench-rules-mmr"},
        "rules + MMR + LTR + fairness + impression log": {"placement": "bench-full"},
        "same, explain=true": {"placement": "bench-full", "explain": "true"},
    }
    n = str(args.n)

    def call(user: str, extra: dict) -> None:
        engine.recommend(parse_request({"user_id": user, "n": n, **extra}))

    for user in users[:200]:  # warm caches
        for extra in kinds.values():
            call(user, extra)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    started = time.perf_counter()
    for user in users:
        for name, extra in kinds.items():
            c, t = time.thread_time(), time.perf_counter()
            call(user, extra)
            times[name].append((time.perf_counter() - t) * 1e6)
            cpu[name].append((time.thread_time() - c) * 1e6)
    wall = time.perf_counter() - started
    engine.recommender.impressions.flush()
    body = engine.recommender.recommend(parse_request({"user_id": users[0], "placement": "bench-full", "n": n,
                                                       "explain": "true"}))
    result = {
        "data_dir": args.data_dir, "items": len(state.index), "pool": args.pool, "n": args.n, "calls_per_kind": len(users),
        "us_per_request": {k: {q: round(v, 1) for q, v in percentiles(t, (50, 90, 99)).items() if q != "count"}
                           for k, t in times.items()},
        # CPU time of the request thread only: robust to other processes and threads on the machine
        # (the clock's resolution is coarse on some systems; compare medians)
        "cpu_us_per_request": {k: {q: round(v, 1) for q, v in percentiles(t, (50, 99)).items() if q in ("p50", "p99", "mean")}
                               for k, t in cpu.items()},
        "impressions_logged": engine.recommender.impressions.written,
        "wall_s": round(wall, 1),
        "example_explanation": body["items"][0].get("explanation"),
    }
    print(json.dumps(result, indent=2))
    engine.close(snapshot=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
