"""What experiments add to a recommendation request, in process: ``Engine.recommend`` with no
experiment running and with 3 running on the placement (issue 16's target: assignment and
logging add <= 0.2 ms to p99).

The 3 experiments are A/A (every variant the placement as it is: 40/30/30, 50/50, 20/80, in
three layers, one with a segment filter), so the pipeline does the same work in both modes and
the difference is the assignment (3 blake2b buckets, the population check), the response's
``experiments`` field and the impression record (every assigned list is logged; a background
thread writes them to SQLite, which is counted too). A third mode adds the global holdout
(10%; its held-out users get the cheaper popularity list, so only its p99 is comparable).

Modes alternate in rounds of 200 requests (drift on a shared box hits every mode alike);
users cycle through the generated ones. BLAS threads are pinned to 1.

    .venv/bin/python bench/experiment_overhead.py                    # ~1 minute
    .venv/bin/python bench/experiment_overhead.py --requests 3000    # smoke

Writes bench/results/experiment_overhead-<stamp>.json.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_DIR, dump_json, hardware_info, percentiles  # noqa: E402

from tastemaker.config import Settings  # noqa: E402
from tastemaker.datasets import generate  # noqa: E402
from tastemaker.engine import Engine  # noqa: E402
from tastemaker.experiments.spec import experiment_from_json  # noqa: E402
from tastemaker.ingest.dataset_loader import load_dataset  # noqa: E402
from tastemaker.serving.request import parse_request  # noqa: E402
from tastemaker.storage.factory import open_stores  # noqa: E402

ROUND = 200


def experiments():
    def aa(exp_id, shares, layer, **kw):
        return experiment_from_json({"id": exp_id, "placements": ["home"], "status": "running", "layer": layer, **kw,
                                     "variants": [{"name": f"v{i}", "share": s} for i, s in enumerate(shares)]})
    return [aa("aa-1", (0.4, 0.3, 0.3), "sources"), aa("aa-2", (0.5, 0.5), "ranking"),
            aa("aa-3", (0.2, 0.8), "rules", population={"segments": ["active", "lapsed"]})]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000, help="requests per mode")
    ap.add_argument("--users", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        data = Path(tmp) / "data"
        with open_stores(Settings(data_dir=data, durable=False)) as stores:
            load_dataset(stores, generate(args.users, 500, args.users * 20, seed=args.seed))
        engine = Engine(Settings(data_dir=data, durable=False))
        router = engine.recommender.experiments
        running = experiments()
        modes = {"none": [], "3 experiments": running}
        holdout_router_share = 0.1
        requests = [parse_request({"user_id": f"u{k % args.users}"}) for k in range(ROUND)]
        times: dict[str, list[float]] = {m: [] for m in (*modes, "3 + holdout 10%")}
        for req in requests:  # warm every path once
            engine.recommend(req)
        gc.collect()
        offset = 0
        while len(times["none"]) < args.requests:
            for mode in times:
                router.holdout = holdout_router_share if mode.endswith("10%") else 0.0
                router.install(modes.get(mode, running))
                batch = [parse_request({"user_id": f"u{(offset + k) % args.users}"}) for k in range(ROUND)]
                out = times[mode]
                for req in batch:
                    t0 = time.perf_counter()
                    engine.recommend(req)
                    out.append(time.perf_counter() - t0)
            offset += ROUND
        logger = engine.recommender.impressions
        logger.flush()
        written, dropped = logger.written, logger.dropped
        engine.close(snapshot=False)

    stats = {m: {k: v * 1000.0 if k not in ("count",) else v for k, v in percentiles(t).items()} for m, t in times.items()}
    base = stats["none"]
    print(f"in-process Engine.recommend, home placement, {args.users} users, {args.requests} requests per mode (ms)")
    print(f"{'mode':<18}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'mean':>9}   p99 added")
    for mode, s in stats.items():
        added = s["p99"] - base["p99"]
        print(f"{mode:<18}{s['p50']:9.3f}{s['p90']:9.3f}{s['p99']:9.3f}{s['p99.9']:9.3f}{s['mean']:9.3f}   {added:+.3f}")
    added = stats["3 experiments"]["p99"] - base["p99"]
    verdict = "PASS" if added <= 0.2 else "FAIL"
    print(f"target: 3 running experiments add <= 0.2 ms to p99: {added:+.3f} ms ({verdict}); "
          f"impressions written {written}, dropped {dropped}")
    path = BENCH_DIR / "results" / f"experiment_overhead-{stamp}.json"
    dump_json({"started_utc": stamp, "args": vars(args), "ms": stats, "p99_added_ms": added, "target_ms": 0.2,
               "verdict": verdict, "impressions_written": written, "impressions_dropped": dropped,
               "hardware": hardware_info()}, path)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
