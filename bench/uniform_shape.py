"""The ``uniform`` workload shape of the core benchmark (issue 14), built here, not in the library.

A shape the synthetic generator does not produce: a catalogue of ``items`` items, ``users``
users chosen uniformly at random (about events/users events each), item popularity a
power law over the item's rank (Zipf-like: rank ``r`` drawn with weight ``(r + 1) ** -a``;
rank = id, so ``i0`` is the hottest item, as in the generator's data), shop-funnel event
types, increasing timestamps, and no sessions (no ``session_id`` at all).

Everything is seeded numpy, and everything reaches the server the way a new user loads it:
``tastemaker serve`` on an empty data dir, the catalogue as ``POST /v1/items`` batches, the
events as ``POST /v1/events`` batches of 10,000 from one client (no CLI import).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import zlib
from pathlib import Path
from typing import Callable

import msgspec
import numpy as np

from benchlib import LOCALHOST, CpuMonitor, free_port
from core_data import Report, record_cpu, record_rss, settle, start_server
from ingest_bench import TYPE_P, TYPES, run_ingest

ZIPF_EXPONENT = 1.0  # weight of rank r is (r + 1) ** -a: a classic Zipf long tail
N_CATEGORIES, N_BRANDS = 200, 500
MAX_DOCS_PER_POST = 10_000  # the API's batch limit for items and events


def catalogue_bodies(n_items: int, seed: int = 11) -> list[bytes]:
    """``POST /v1/items`` bodies (JSON arrays of at most 10,000 items): ids ``i0..``, a
    category, a brand and a price each."""
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, N_CATEGORIES, n_items).tolist()
    brands = rng.integers(0, N_BRANDS, n_items).tolist()
    prices = np.round(rng.lognormal(3.3, 0.8, n_items), 2).tolist()
    encode = msgspec.json.Encoder().encode
    out = []
    for start in range(0, n_items, MAX_DOCS_PER_POST):
        stop = min(start + MAX_DOCS_PER_POST, n_items)
        out.append(encode([{"id": f"i{k}", "title": f"item {k}", "categories": [f"c{cats[k]}"],
                            "brand": f"b{brands[k]}", "price": prices[k]} for k in range(start, stop)]))
    return out


def zipf_items(rng: np.random.Generator, n_items: int, size: int, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """``size`` item ranks in ``[0, n_items)`` with ``P(r) ~ (r + 1) ** -exponent``."""
    weights = np.arange(1, n_items + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    # searchsorted on the CDF: O(size log n) and exact for a finite catalogue (numpy's
    # own zipf sampler is unbounded and would need rejection).
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n_items - 1)


def event_bodies(n_events: int, batch: int, n_users: int, n_items: int, tag: str, seed: int = 5,
                 span_s: float = 30 * 86_400.0) -> list[bytes]:
    """``POST /v1/events`` bodies of ``batch`` events each (the last may be shorter), ids
    ``uni-<tag>-<n>`` (unique per tag), timestamps increasing over the ``span_s`` before now."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_events).tolist()  # uniform users: ~n_events/n_users each
    items = zipf_items(rng, n_items, n_events).tolist()
    types = rng.choice(len(TYPES), n_events, p=TYPE_P).tolist()
    prices = np.round(rng.lognormal(3.3, 0.8, n_events), 2).tolist()
    start = time.time() - span_s
    step = span_s / max(n_events, 1)
    encode = msgspec.json.Encoder().encode
    out = []
    for lo in range(0, n_events, batch):
        events = []
        for n in range(lo, min(lo + batch, n_events)):
            event = {"id": f"uni-{tag}-{n}", "type": TYPES[types[n]], "user_id": f"u{users[n]}",
                     "item_id": f"i{items[n]}", "timestamp": round(start + n * step, 3)}
            if types[n] == 3:  # purchase
                event["value"] = prices[n]
            events.append(event)
        out.append(encode(events))
    return out


def post_catalogue(port: int, token: str, bodies: list[bytes], timeout: float = 300.0) -> dict:
    """POST the catalogue batches one after another; returns items upserted and seconds."""
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    upserted, t0 = 0, time.perf_counter()
    with httpx.Client(base_url=f"http://{LOCALHOST}:{port}", headers=headers, timeout=timeout) as http:
        for body in bodies:
            resp = http.post("/v1/items", content=body)
            if resp.status_code != 200:
                raise RuntimeError(f"POST /v1/items: HTTP {resp.status_code}: {resp.text[:300]}")
            upserted += resp.json()["upserted"]
    elapsed = time.perf_counter() - t0
    return {"items_upserted": upserted, "elapsed_s": elapsed, "items_per_s": upserted / max(elapsed, 1e-9)}


def live_batches(n_users: int, n_items: int) -> Callable[[int, int, str], list[bytes]]:
    """The shape's event builder for the ingest steps: fresh ids per tag, stamped the last minute."""
    def make(n_batches: int, size: int, tag: str) -> list[bytes]:
        return event_bodies(n_batches * size, size, n_users, n_items, tag=tag, seed=zlib.crc32(tag.encode()), span_s=60.0)
    return make


def prepare_uniform(args, env: dict[str, str], token: str, tmp: Path, report: Report, results: dict,
                    monitor: CpuMonitor, running: list[subprocess.Popen]) -> tuple[subprocess.Popen, int, Path, Path]:
    """Build the data, start ``tastemaker serve`` on an empty data dir, POST the catalogue and
    then the events (one client, ``--load-batch`` events per POST); returns (server, port, data dir, log)."""
    t0 = time.perf_counter()
    catalogue = catalogue_bodies(args.items)
    events = event_bodies(args.events, args.load_batch, args.users, args.items, tag="load")
    report.add("generate", "uniform shape in numpy (bodies encoded)", time.perf_counter() - t0, "s",
               f"{args.items:,} items, {args.users:,} users, {args.events:,} events, Zipf a={ZIPF_EXPONENT:g}, no sessions")
    data, log, port = tmp / "data-uniform", tmp / "server.log", free_port()
    mark = monitor.mark()
    server, startup = start_server(data, port, env, log, args.startup_timeout, monitor)
    running.append(server)
    results["startup"] = {"empty_start_s": startup}
    report.add("startup", "start on an empty data dir to /readyz 200", startup, "s")
    res = post_catalogue(port, token, catalogue)
    results["load_items"] = res
    report.add("load", f"POST /v1/items ({MAX_DOCS_PER_POST:,} per batch, one client)", res["items_per_s"], "items/s",
               f"{res['items_upserted']:,} items in {res['elapsed_s']:.1f}s")
    res = asyncio.run(run_ingest(port, token, events, 1, args.load_timeout))
    results["load_events"] = res
    if res["errors"] or res["events_accepted"] != args.events:
        raise RuntimeError(f"loading events over HTTP failed: {res['events_accepted']} of {args.events} accepted, "
                           f"statuses {res['statuses']}")
    lat = res["batch_latency_ms"]
    report.add("load", f"POST /v1/events ({args.load_batch:,} per batch, one client)", res["events_per_s"], "ev/s",
               f"{res['events_accepted']:,} events in {res['elapsed_s']:.1f}s; batch p50 {lat['p50']:.0f} ms, max {lat['max']:.0f} ms")
    del events, catalogue
    record_rss(report, results, server.pid, "after loading over HTTP")
    if args.settle_timeout > 0:
        settle(report, results, server.pid, args.settle_timeout)
    record_cpu(report, results, monitor, mark, "load")
    return server, port, data, log
