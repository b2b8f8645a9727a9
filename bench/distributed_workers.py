"""Distributed workers (issue 17): two ``tastemaker serve`` workers sharing only PostgreSQL, NATS
JetStream and Redis, against the embedded deployment (one worker, SQLite) on the same machine.

Measured in one run, every figure beside its ceiling or its embedded counterpart:

* read-your-writes: a single event posted to one worker, then read on the other with
  ``X-Tastemaker-After: <position>`` (``GET /v1/users/{id}``: its event count); directions
  alternate; share of trials that saw the write (target 100% of 1,000);
* event-to-visible without a token: after the ack from worker A, worker B is polled
  (``GET /v1/users/{id}``, no header) until the event shows; p50/p99 ms (target p99 <= 50 ms);
* read path: the embedded max rate (closed loop), then 25% of it open loop on the embedded
  worker and on distributed worker A (B following): p99 ratio (target <= 2x) and server CPU
  per request ratio (target <= 1.5x);
* durable ingest: 1,000-event batches from 4 concurrent clients, events/s through the API,
  distributed (JetStream; both workers apply everything, then A alone) / embedded (SQLite FULL)
  (target >= 0.5x);
* a third worker's start (latest snapshot from PostgreSQL plus the stream) to its first 200 of /readyz.

    .venv/bin/python bench/distributed_workers.py --trials 1000 --json bench/results/distributed_workers.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (BENCH_DIR, cpu_seconds, dump_json, free_port, hardware_info, percentiles, python_exe,  # noqa: E402
                      stop_process, tastemaker_cmd, wait_ready)

KEY = "bench-distributed-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
POSTGRES = os.environ.get("TASTEMAKER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
N_ITEMS, N_USERS = 500, 2_000


class Worker:
    def __init__(self, env: dict[str, str], data_dir: Path):
        self.env, self.data_dir, self.port = env, data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "wb")
        self.proc = subprocess.Popen([*tastemaker_cmd(), "serve", "--data-dir", str(self.data_dir), "--port",
                                      str(self.port), "--log-level", "warning"], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        return wait_ready(self.proc, self.url + "/readyz", 300, interval_s=0.02)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def environments(tag: str, rate_limits: str) -> tuple[dict[str, str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    base.update(TASTEMAKER_ADMIN_KEY=KEY, TASTEMAKER_NO_PROGRESS="1", TASTEMAKER_RATE_LIMITS=rate_limits)
    sep = "&" if "?" in POSTGRES else "?"
    distributed = {**base, "TASTEMAKER_BACKEND": "distributed", "TASTEMAKER_POSTGRES_URL": f"{POSTGRES}{sep}schema={tag}",
                   "TASTEMAKER_NATS_STREAM": tag.upper(), "TASTEMAKER_NATS_SUBJECT_PREFIX": f"bench.{tag}",
                   "TASTEMAKER_REDIS_URL": "redis://127.0.0.1:6379/14", "TASTEMAKER_REDIS_PREFIX": f"{tag}:"}
    return base, distributed


def seed(url: str, events: int) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as c:
        r = c.post("/v1/items", json=[{"id": f"i{k}", "title": f"Item {k}", "stock": 5} for k in range(N_ITEMS)])
        r.raise_for_status()
        for start in range(0, events, 1000):
            batch = [{"id": f"seed-{n}", "type": "view", "user_id": f"u{n % N_USERS}", "item_id": f"i{(n * 7919) % N_ITEMS}",
                      "timestamp": 1_790_000_000 + n} for n in range(start, start + 1000)]
            c.post("/v1/events", json=batch).raise_for_status()


def read_your_writes(a: str, b: str, trials: int) -> dict:
    seen, latencies = 0, []
    with httpx.Client(base_url=a, headers=AUTH) as ca, httpx.Client(base_url=b, headers=AUTH) as cb:
        for k in range(trials):
            writer, reader = (ca, cb) if k % 2 == 0 else (cb, ca)
            user = f"ryw-{k}"
            r = writer.post("/v1/events", json={"id": f"ryw-{k}", "type": "view", "user_id": user, "item_id": f"i{k % N_ITEMS}"})
            r.raise_for_status()
            started = time.perf_counter()
            got = reader.get(f"/v1/users/{user}", headers={"X-Tastemaker-After": r.headers["X-Tastemaker-Position"]})
            latencies.append((time.perf_counter() - started) * 1000)
            seen += got.status_code == 200 and got.json()["activity"]["event_count"] == 1
    return {"trials": trials, "seen": seen, "share": seen / trials, "read_ms": percentiles(latencies, (50, 99))}


def event_to_visible(a: str, b: str, trials: int) -> dict:
    from_ack, from_send = [], []
    with httpx.Client(base_url=a, headers=AUTH) as ca, httpx.Client(base_url=b, headers=AUTH) as cb:
        for k in range(trials):
            user = f"vis-{k}"
            sent = time.perf_counter()
            ca.post("/v1/events", json={"id": f"vis-{k}", "type": "view", "user_id": user, "item_id": "i1"}).raise_for_status()
            acked = time.perf_counter()
            while True:
                r = cb.get(f"/v1/users/{user}")
                if r.status_code == 200 and r.json()["activity"]["event_count"] == 1:
                    break
            now = time.perf_counter()
            from_ack.append((now - acked) * 1000)
            from_send.append((now - sent) * 1000)
    return {"trials": trials, "from_ack_ms": percentiles(from_ack, (50, 90, 99)),
            "from_send_ms": percentiles(from_send, (50, 90, 99))}


def loadgen(port: int, rate: float, duration: float, paths: Path, mode: str = "open") -> dict:
    out = subprocess.run([python_exe(), str(BENCH_DIR / "loadgen.py"), "--port", str(port), "--mode", mode, "--rate",
                          str(rate), "--duration", str(duration), "--warmup", "2", "--connections", "16",
                          "--paths-file", str(paths), "--header", f"Authorization: Bearer {KEY}", "--json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def read_path(embedded: Worker, distributed: Worker, paths: Path, duration: float, rounds: int) -> dict:
    """Closed-loop embedded max, then ``rounds`` alternating open-loop runs at 25% of it on each
    deployment (the shared box stalls now and then: the median round's p99 is compared)."""
    ceiling = loadgen(embedded.port, 1, duration, paths, mode="closed")
    rate = max(0.25 * ceiling["achieved_rate"], 10.0)
    out: dict = {"embedded_max_rps": ceiling["achieved_rate"], "rate": rate, "embedded": [], "distributed": []}
    for _ in range(rounds):
        for name, worker in (("embedded", embedded), ("distributed", distributed)):
            cpu0 = cpu_seconds(worker.proc.pid)
            run = loadgen(worker.port, rate, duration, paths)
            cpu = cpu_seconds(worker.proc.pid) - cpu0
            out[name].append({"latency_ms": run["latency_ms"], "errors": run["errors_total"],
                              "achieved_rate": run["achieved_rate"],
                              "cpu_us_per_request": cpu / max(run["completed"], 1) * 1e6})
    for name in ("embedded", "distributed"):
        out[f"{name}_p99_ms"] = statistics.median(r["latency_ms"]["p99"] for r in out[name])
        out[f"{name}_p50_ms"] = statistics.median(r["latency_ms"]["p50"] for r in out[name])
        out[f"{name}_cpu_us"] = statistics.median(r["cpu_us_per_request"] for r in out[name])
    out["p99_ratio"] = out["distributed_p99_ms"] / out["embedded_p99_ms"]
    out["cpu_ratio"] = out["distributed_cpu_us"] / out["embedded_cpu_us"]
    return out


def ingest(url: str, tag: str, batches: int, clients: int = 4) -> dict:
    done = [0] * clients

    def client(j: int) -> None:
        with httpx.Client(base_url=url, headers=AUTH, timeout=120) as c:
            for b in range(j, batches, clients):
                batch = [{"id": f"{tag}-{b}-{n}", "type": "view", "user_id": f"u{(b * 1000 + n) % N_USERS}",
                          "item_id": f"i{(b + n) % N_ITEMS}"} for n in range(1000)]
                r = c.post("/v1/events", json=batch)
                r.raise_for_status()
                done[j] += r.json()["accepted"]

    threads = [threading.Thread(target=client, args=(j,)) for j in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"events": sum(done), "seconds": elapsed, "events_per_s": sum(done) / elapsed}


def drop(tag: str, distributed_env: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    log = NatsEventLog("nats://127.0.0.1:4222", StreamSpec(name=tag.upper(), subject_prefix=f"bench.{tag}"))
    log.delete_stream()
    log.close()
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(tag)))


def summarize(r: dict) -> dict:
    out = {"read_p99_ratio": r["read_path"]["p99_ratio"], "read_cpu_ratio": r["read_path"]["cpu_ratio"]}
    if "read_your_writes" in r:
        out.update(read_your_writes_share=r["read_your_writes"]["share"],
                   event_to_visible_p99_ms_from_ack=r["event_to_visible"]["from_ack_ms"]["p99"],
                   event_to_visible_p99_ms_from_send=r["event_to_visible"]["from_send_ms"]["p99"],
                   ingest_ratio=r["ingest"]["ratio"], ingest_ratio_one_worker=r["ingest"]["ratio_alone"],
                   new_worker_ready_s=r["new_worker_ready_s"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=1000, help="read-your-writes trials")
    p.add_argument("--visible-trials", type=int, default=500, help="event-to-visible trials")
    p.add_argument("--seed-events", type=int, default=50_000)
    p.add_argument("--read-seconds", type=float, default=10.0, help="seconds per read-path round")
    p.add_argument("--read-rounds", type=int, default=3, help="alternating read-path rounds per deployment")
    p.add_argument("--ingest-batches", type=int, default=60)
    p.add_argument("--rate-limits", default="admin=off", help="TASTEMAKER_RATE_LIMITS of every worker "
                   "(default: reads and ingest limited, as deployed; counted in Redis when distributed)")
    p.add_argument("--only-reads", action="store_true", help="measure the read path alone")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    tag = f"bench_{uuid.uuid4().hex[:12]}"
    root = Path(tempfile.mkdtemp(prefix="tm-distributed-"))
    embedded_env, distributed_env = environments(tag, args.rate_limits)
    workers = {"embedded": Worker(embedded_env, root / "embedded"), "a": Worker(distributed_env, root / "a"),
               "b": Worker(distributed_env, root / "b")}
    results: dict = {"hardware": hardware_info(), "note": "shared 2-core box, other agents running"}
    try:
        workers["embedded"].start()
        workers["a"].start()
        workers["b"].start()
        for w in ("embedded", "a"):
            seed(workers[w].url, args.seed_events)
        a, b = workers["a"].url, workers["b"].url
        if not args.only_reads:
            results["read_your_writes"] = read_your_writes(a, b, args.trials)
            results["event_to_visible"] = event_to_visible(a, b, args.visible_trials)
        paths = root / "paths.txt"
        paths.write_text("".join(f"/v1/recommendations?user_id=u{(k * 37) % N_USERS}&n=10\n" for k in range(4000)))
        results["read_path"] = read_path(workers["embedded"], workers["a"], paths, args.read_seconds, args.read_rounds)
        if not args.only_reads:
            emb = ingest(workers["embedded"].url, "ing", args.ingest_batches)
            dist = ingest(a, "ing", args.ingest_batches)
            results["ingest"] = {"embedded": emb, "distributed": dist, "ratio": dist["events_per_s"] / emb["events_per_s"]}
            workers["b"].stop()  # writes its snapshot to PostgreSQL on the way down
            # A alone: on this 2-core box B's applying every event competes with A for the cores
            alone = ingest(a, "alone", args.ingest_batches)
            results["ingest"].update(distributed_alone=alone, ratio_alone=alone["events_per_s"] / emb["events_per_s"])
            c = workers["c"] = Worker(distributed_env, root / "c")
            results["new_worker_ready_s"] = c.start()
    finally:
        for w in workers.values():
            if getattr(w, "proc", None) is not None and w.proc.poll() is None:
                w.stop()
        drop(tag, distributed_env)
    summary = summarize(results)
    results["summary"] = summary
    print(json.dumps(summary, indent=2))
    if args.json:
        dump_json(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
