"""In-process cost of one recommendation, without HTTP: where do the slow requests come from?

Opens the engine on an existing data dir (as ``tastemaker serve`` does), then times
``Engine.recommend`` (catch up, then the pipeline) for random users, the same work as
``GET /v1/recommendations`` minus the ASGI/HTTP layers. Garbage-collector pauses are timed with ``gc.callbacks`` so a slow
call can be attributed to a collection. ``--cprofile`` prints the top functions by time.

    .venv/bin/python bench/profile_recs.py --data-dir /tmp/tm/data --calls 5000

The data dir must not be in use by a running server (the snapshot may be rewritten).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import percentiles, rss_mib  # noqa: E402


class GcTimer:
    """Records (generation, seconds) of every collection."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--calls", type=int, default=5000)
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--cprofile", action="store_true")
    args = p.parse_args(argv)
    from tastemaker.config import Settings
    from tastemaker.engine import Engine
    from tastemaker.serving.request import parse_request

    t0 = time.perf_counter()
    engine = Engine(Settings(data_dir=Path(args.data_dir)))
    open_s = time.perf_counter() - t0
    rng = random.Random(1)
    users = [f"anon-{rng.randrange(10**9)}" if rng.randrange(100) < 5 else f"u{rng.randrange(args.users)}"
             for _ in range(min(args.calls, 100_000))]

    def call(user: str) -> None:
        engine.recommend(parse_request({"user_id": user, "n": "10"}))

    for user in users[:200]:  # warm caches, as the HTTP benchmark's warm-up does
        call(user)
    timer = GcTimer()
    gc.callbacks.append(timer)
    profiler = cProfile.Profile() if args.cprofile else None
    times, slow = [], []
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for user in users:
        n_gc = len(timer.pauses)
        t = time.perf_counter()
        call(user)
        ms = (time.perf_counter() - t) * 1000
        times.append(ms)
        if ms > 20:
            slow.append({"user": user, "ms": round(ms, 1), "gc_during": [(g, round(s * 1000, 1)) for g, s in timer.pauses[n_gc:]]})
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    gc.callbacks.remove(timer)
    gen2 = [s * 1000 for g, s in timer.pauses if g == 2]
    result = {
        "engine_open_s": round(open_s, 2),
        "calls": len(times),
        "calls_per_s": len(times) / wall,
        "call_ms": percentiles(times, (50, 90, 99, 99.9)),
        "slow_calls_over_20ms": len(slow),
        "slowest": sorted(slow, key=lambda s: -s["ms"])[:10],
        "gc_collections": {g: sum(1 for x, _ in timer.pauses if x == g) for g in (0, 1, 2)},
        "gc_gen2_pause_ms": percentiles(gen2, (50, 99)),
        "gc_objects_tracked": len(gc.get_objects()),
        "memory": rss_mib(os.getpid()),
    }
    print(json.dumps(result, indent=2))
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    engine.close(snapshot=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
