"""Where the tail comes from: an open loop of recommendation reads while clients ingest,
with the server's own stall counters (event-loop lag, collector pauses) read around it.

    .venv/bin/python bench/stall_probe.py --data-dir DIR [--rate 300] [--seconds 20] [--clients 4]
    .venv/bin/python bench/stall_probe.py --events 500000 [--rate 2000] [--clients 0]

``DIR`` is a data dir loaded beforehand (e.g. by ``bench/run_core.py --shape uniform --keep``
or any ``tastemaker import``); it is copied, never written, and the server restarts on it
(state from the snapshot). Without ``--data-dir`` the server starts on an empty dir and the
uniform shape (bench/uniform_shape.py: ``--items``, ``--users``, ``--events``) is POSTed to
it first, so the probe sees a live-loaded state as ``run_core.py`` does. The report gives, for the
measured window: read p50/p99 and the per-second maxima (latency from the scheduled send),
the loop's wake-up lag histogram, and the collector's passes per generation with their
worst pause, from ``/metrics`` scraped before and after. Issue 14 used it to find the stalls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx  # noqa: E402
from benchlib import LOCALHOST, CpuMonitor, free_port, stop_process  # noqa: E402
from core_data import start_server  # noqa: E402
from core_latency import _parse, loadgen_cmd, write_paths  # noqa: E402
from ingest_bench import run_ingest  # noqa: E402
from uniform_shape import catalogue_bodies, event_bodies, live_batches, post_catalogue  # noqa: E402

_BUCKET = re.compile(r'^tastemaker_(event_loop_lag|gc_pause)_seconds_bucket\{(?:generation="(\d)",)?le="([^"]+)"\} (\S+)$')


def scrape(port: int, token: str) -> dict[tuple[str, str, str], float]:
    """Cumulative bucket counts of the stall histograms: ``(name, generation, le) -> count``."""
    text = httpx.get(f"http://{LOCALHOST}:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    out = {}
    for line in text.splitlines():
        m = _BUCKET.match(line)
        if m:
            out[(m.group(1), m.group(2) or "", m.group(3))] = float(m.group(4))
    return out


def stall_table(before: dict, after: dict) -> list[str]:
    """Per histogram: passes in the window and how many took longer than each bound."""
    rows = []
    for name, gen in sorted({(k[0], k[1]) for k in after}):
        les = sorted((k[2] for k in after if k[:2] == (name, gen)), key=lambda le: float("inf") if le == "+Inf" else float(le))
        delta = {le: after[(name, gen, le)] - before.get((name, gen, le), 0.0) for le in les}
        total = delta["+Inf"]
        over = ", ".join(f">{float(le) * 1000:g}ms {total - delta[le]:.0f}" for le in les if le != "+Inf" and float(le) >= 0.001)
        label = name + (f" gen{gen}" if gen else "")
        rows.append(f"  {label:<22} {total:8.0f} passes; {over}")
    return rows


def load_uniform(port: int, token: str, args: argparse.Namespace) -> None:
    """POST the uniform shape's catalogue, then its events in 10k batches (one client)."""
    post_catalogue(port, token, catalogue_bodies(args.items))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    with httpx.Client(base_url=f"http://{LOCALHOST}:{port}", headers=headers, timeout=300) as http:
        for body in event_bodies(args.events, 10_000, args.users, args.items, tag="load"):
            resp = http.post("/v1/events", content=body)
            if resp.status_code != 200:
                raise RuntimeError(f"POST /v1/events: HTTP {resp.status_code}: {resp.text[:300]}")
    print(f"loaded {args.events:,} events over HTTP in {time.perf_counter() - started:.1f}s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, help="a loaded data dir to copy (default: load the uniform shape over HTTP)")
    ap.add_argument("--events", type=int, default=500_000, help="events POSTed when there is no --data-dir")
    ap.add_argument("--rate", type=float, default=300.0, help="recommendation requests per second (open loop)")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4, help="concurrent ingest clients (0: reads only)")
    ap.add_argument("--batch", type=int, default=1000, help="events per ingest POST")
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--settle", type=float, default=0.0, help="seconds to wait after loading, before measuring")
    args = ap.parse_args(argv)
    args.rate_seconds = args.seconds

    token = "tm-probe-" + os.urandom(12).hex()
    env = dict(os.environ, TASTEMAKER_NO_PROGRESS="1", TASTEMAKER_ADMIN_KEY=token)
    with tempfile.TemporaryDirectory(prefix="tm-stall-") as tmp:
        data = Path(tmp) / "data"
        if args.data_dir:
            shutil.copytree(args.data_dir, data)
        port, log = free_port(), Path(tmp) / "server.log"
        server, ready_s = start_server(data, port, env, log, 600, CpuMonitor())
        try:
            if not args.data_dir:
                load_uniform(port, token, args)
            time.sleep(args.settle)
            paths = Path(tmp) / "paths.txt"
            write_paths(paths, args.users)
            bodies = live_batches(args.users, args.items)(max(args.clients, 400_000 // args.batch), args.batch,
                                                          f"probe-{int(time.time())}") if args.clients else []
            before = scrape(port, token)
            proc = subprocess.Popen(loadgen_cmd(args, port, token, paths, args.rate), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            ingest = asyncio.run(run_ingest(port, token, bodies, args.clients, args.seconds + 1.2)) if bodies else None
            out, err = proc.communicate(timeout=args.seconds + 90)
            after = scrape(port, token)
            res = _parse(out, err, proc.returncode)
        finally:
            stop_process(server, grace_s=60)
    lat, view = res["latency_ms"], res["seconds_view"]
    print(f"ready in {ready_s:.1f}s; reads {res['achieved_rate']:.0f}/s of {args.rate:.0f}, errors {res['errors_total']}")
    print(f"read latency ms: p50 {lat['p50']:.2f}  p99 {lat['p99']:.2f}  max {lat['max']:.1f}")
    print(f"seconds over 10 ms: {view['over_10ms']}/{view['seconds']}, over 50 ms: {view['over_50ms']}")
    print("max of each second (ms):", " ".join(f"{m:.0f}" for m in view["max_per_second_ms"]))
    if ingest:
        print(f"ingest: {ingest['events_per_s']:,.0f} events/s, {ingest['errors']} errors, {args.clients} x {args.batch}")
    print("stalls in the window (from /metrics):")
    print("\n".join(stall_table(before, after)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
