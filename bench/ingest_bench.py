"""Durable ingest throughput: concurrent clients POST batches of events to ``/v1/events``.

A 200 from ``/v1/events`` means the batch is fsynced to the event log *and* applied to the
online state, so accepted events per second here is the durable, visible ingest rate.

Bodies are built and JSON-encoded before the clock starts: the figure is the server's, not
the client's encoder's. Every event id is unique (``bench-<run>-<batch>-<k>``), users and
items are the data set's own (``u<k>``, ``i<k>``), types follow a shop funnel.

    .venv/bin/python bench/ingest_bench.py --port 8000 --token $KEY --batch 1000 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import msgspec
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import LOCALHOST, percentiles  # noqa: E402

# A shop funnel: mostly views, some clicks and carts, a few purchases and likes.
TYPES = ("view", "click", "add_to_cart", "purchase", "like")
TYPE_P = (0.70, 0.15, 0.08, 0.04, 0.03)


def build_batches(n_batches: int, batch: int, n_users: int, n_items: int, tag: str, seed: int = 1) -> list[bytes]:
    """``n_batches`` JSON arrays of ``batch`` realistic events with unique ids."""
    rng = np.random.default_rng(seed)
    now = time.time()
    encode = msgspec.json.Encoder().encode
    out = []
    for b in range(n_batches):
        users = rng.integers(0, n_users, batch)
        # Skewed item popularity (low ids hotter), like real catalogues.
        items = np.minimum((n_items * rng.random(batch) ** 2.5).astype(np.int64), n_items - 1)
        types = rng.choice(len(TYPES), batch, p=TYPE_P)
        prices = np.round(rng.lognormal(3.3, 0.8, batch), 2)
        events = []
        for k, (u, i, t, price) in enumerate(zip(users.tolist(), items.tolist(), types.tolist(), prices.tolist())):
            event = {"id": f"bench-{tag}-{b}-{k}", "type": TYPES[t], "user_id": f"u{u}", "item_id": f"i{i}",
                     "session_id": f"bench-{tag}-u{u}", "timestamp": now + k * 1e-4,
                     "context": {"device": "mobile" if u % 3 else "desktop"}}
            if t == 3:
                event["value"] = price
            events.append(event)
        out.append(encode(events))
    return out


async def run_ingest(port: int, token: str, bodies: list[bytes], clients: int, seconds: float,
                     timeout: float = 120.0) -> dict:
    """POST ``bodies`` with ``clients`` concurrent connections until done or ``seconds`` pass."""
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    next_index = iter(range(len(bodies)))
    latencies: list[float] = []
    accepted = duplicates = errors = sent = 0
    statuses: dict[str, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    last_done = start

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal accepted, duplicates, errors, sent, last_done
        for i in next_index:  # shared iterator: each batch is sent exactly once
            if time.perf_counter() >= deadline:
                return
            t0 = time.perf_counter()
            sent += 1
            try:
                resp = await http.post(f"http://{LOCALHOST}:{port}/v1/events", content=bodies[i], headers=headers)
            except httpx.HTTPError as exc:
                errors += 1
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                continue
            last_done = time.perf_counter()
            latencies.append((last_done - t0) * 1000.0)
            statuses[str(resp.status_code)] = statuses.get(str(resp.status_code), 0) + 1
            if resp.status_code == 200:
                body = resp.json()
                accepted += body["accepted"]
                duplicates += body["duplicates"]
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        await asyncio.wait([asyncio.create_task(client(http)) for _ in range(clients)], timeout=seconds + timeout + 5)
    elapsed = max(last_done - start, 1e-9)
    return {
        "batches_sent": sent,
        "events_accepted": accepted,
        "duplicates": duplicates,
        "errors": errors,
        "statuses": statuses,
        "elapsed_s": elapsed,
        "events_per_s": accepted / elapsed,
        "exhausted": sent == len(bodies),  # True: ran out of prepared batches before the time limit
        "batch_latency_ms": percentiles(latencies, (50, 90, 99)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="durable ingest throughput (127.0.0.1 only)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", default=os.environ.get("TASTEMAKER_ADMIN_KEY", ""))
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--max-events", type=int, default=600_000, help="events prepared (bounds memory and run)")
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--items", type=int, default=100_000)
    args = p.parse_args(argv)
    bodies = build_batches(max(1, args.max_events // args.batch), args.batch, args.users, args.items, tag=str(int(time.time())))
    print(json.dumps(asyncio.run(run_ingest(args.port, args.token, bodies, args.clients, min(args.seconds, 300))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
