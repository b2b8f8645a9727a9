"""What pseudonymization (privacy.pseudonyms, TASTEMAKER_PSEUDONYMIZE=1) adds per request and per
ingested event, in process: the real ASGI app (middleware stack, fast path, engine) called directly,
no sockets, with pseudonymization off and on over the same data.

1. Two data dirs, one per mode, each with the same 200 items and 20,000 view events of 2,000 users.
2. Recommendations: ``--requests`` GET /v1/recommendations calls per mode, modes alternating in
   rounds of 200 (so drift on a shared box hits both), users cycling through the 2,000 known ones
   (the LRU holds them: the hot path). Then the same with ids never seen before (each an LRU miss:
   the HMAC itself). p50/p99 per mode and the difference.
3. Ingest: ``--batches`` POST /v1/events of 100 events (100 distinct new users each), alternating
   modes; the time per event of each mode and the difference.

    .venv/bin/python bench/pseudonym_cost.py                 # ~1 minute
    .venv/bin/python bench/pseudonym_cost.py --requests 2000 --batches 40   # smoke

Writes bench/results/pseudonym_cost-<stamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_DIR, dump_json, hardware_info, percentiles  # noqa: E402

from tastemaker.api.app import build_app  # noqa: E402
from tastemaker.config import Settings  # noqa: E402
from tastemaker.engine import Engine  # noqa: E402

KEY = "bench-admin-key-0123456789"
N_ITEMS, N_USERS, N_EVENTS = 200, 2000, 20_000


async def call(app, method: str, path: str, query: str = "", body: bytes = b"") -> tuple[int, float]:
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "scheme": "http", "http_version": "1.1",
             "root_path": "", "asgi": {"version": "3.0"}}
    sent = False
    status = 0

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    start = time.perf_counter()
    await app(scope, receive, send)
    return status, time.perf_counter() - start


def events_body(users: list[str], rng: random.Random, prefix: str) -> bytes:
    return json.dumps([{"id": f"{prefix}-{k}", "type": "view", "user_id": u, "item_id": f"i{rng.randrange(N_ITEMS)}"}
                       for k, u in enumerate(users)]).encode()


async def open_app(data_dir: Path, pseudonymize: bool):
    settings = Settings(data_dir=data_dir, admin_key=KEY, durable=False, pseudonymize=pseudonymize, rate_limits={})
    engine = Engine(settings)
    app = build_app(engine)
    items = json.dumps([{"id": f"i{k}", "categories": [f"c{k % 10}"]} for k in range(N_ITEMS)]).encode()
    assert (await call(app, "POST", "/v1/items", body=items))[0] == 200
    rng = random.Random(7)
    for start in range(0, N_EVENTS, 5000):
        users = [f"user-{rng.randrange(N_USERS)}" for _ in range(5000)]
        assert (await call(app, "POST", "/v1/events", body=events_body(users, rng, f"seed{start}")))[0] == 200
    return engine, app


async def main_async(args: argparse.Namespace) -> dict:
    root = Path(tempfile.mkdtemp(prefix="pseudonym-cost-"))
    apps = {mode: await open_app(root / mode, mode == "on") for mode in ("off", "on")}
    out: dict = {"requests": {}, "ingest": {}}
    for label, user_of in (("known users (LRU hits)", lambda i: f"user-{i % N_USERS}"),
                           ("new ids (LRU misses)", lambda i: f"stranger-{i}")):
        times: dict[str, list[float]] = {"off": [], "on": []}
        for r in range(0, args.requests, 200):
            for mode in ("off", "on") if (r // 200) % 2 == 0 else ("on", "off"):
                app = apps[mode][1]
                for i in range(r, r + 200):
                    status, dt = await call(app, "GET", "/v1/recommendations", f"user_id={user_of(i)}&n=10")
                    assert status == 200
                    times[mode].append(dt * 1e6)
        stats = {m: percentiles(t, (50, 99)) for m, t in times.items()}
        stats["added_us"] = {p: stats["on"][p] - stats["off"][p] for p in ("p50", "p99")}
        out["requests"][label] = stats
    rng = random.Random(11)
    per_event: dict[str, list[float]] = {"off": [], "on": []}
    for b in range(args.batches):
        users = [f"ingest-{b}-{k}" for k in range(100)]
        for mode in ("off", "on") if b % 2 == 0 else ("on", "off"):
            status, dt = await call(apps[mode][1], "POST", "/v1/events", body=events_body(users, rng, f"b{b}-{mode}"))
            assert status == 200
            per_event[mode].append(dt / 100 * 1e6)
    out["ingest"] = {m: percentiles(t, (50,)) for m, t in per_event.items()}
    out["ingest"]["added_us_per_event_p50"] = out["ingest"]["on"]["p50"] - out["ingest"]["off"]["p50"]
    for engine, _ in apps.values():
        engine.close(snapshot=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="recommendation calls per mode and id kind")
    parser.add_argument("--batches", type=int, default=200, help="100-event batches per mode")
    args = parser.parse_args()
    with threadpool_limits(1):
        result = asyncio.run(main_async(args))
    for label, stats in result["requests"].items():
        print(f"GET /v1/recommendations, {label}: off p50 {stats['off']['p50']:.1f} us p99 {stats['off']['p99']:.1f} us; "
              f"on p50 {stats['on']['p50']:.1f} us p99 {stats['on']['p99']:.1f} us; "
              f"added p50 {stats['added_us']['p50']:+.1f} us p99 {stats['added_us']['p99']:+.1f} us")
    ingest = result["ingest"]
    print(f"POST /v1/events (100-event batches, new users): off {ingest['off']['p50']:.2f} us/event, "
          f"on {ingest['on']['p50']:.2f} us/event, added {ingest['added_us_per_event_p50']:+.2f} us/event (p50 of batches)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dump_json({"bench": "pseudonym_cost", "args": vars(args), "hardware": hardware_info(), **result},
              BENCH_DIR / "results" / f"pseudonym_cost-{stamp}.json")


if __name__ == "__main__":
    main()
