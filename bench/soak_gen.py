"""The soak's load generator (bench/soak.py runs it as its own process, never inside the server).

An open loop of a mixed workload at a fixed rate: request *i* is scheduled at
``t0 + i / rate`` whatever the server does, handed to the first free keep-alive connection,
and timed from that *scheduled* time (no coordinated omission, as ``bench/loadgen.py``,
whose ``Connection`` and ``read_response`` it uses). The mix, drawn per request with a
seeded generator: 60% ``GET /v1/recommendations?user_id=U&n=10``, 20% ``GET /v1/users/U``,
20% ``POST /v1/events`` with 5 new events (unique ids, existing users ``u<k>`` drawn
uniformly, items by the uniform shape's power law: ``uniform_shape.live_batches``).

Every raw request (HTTP/1.1 bytes, ``Content-Length`` for the POSTs) is built before the
clock starts: the GETs from pools of random users (bytes shared between requests), every
POST its own (about 700 bytes each). Prints ``START <epoch>`` when the clock starts, then
one JSON object: per minute and per request class, counts, errors (non-2xx, I/O, timeouts,
never completed) and latency percentiles, and how late the generator itself woke up.

    .venv/bin/python bench/soak_gen.py --port P --token K --rate 500 --minutes 2 --users 50000 --items 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import LOCALHOST  # noqa: E402
from loadgen import Connection  # noqa: E402
from uniform_shape import live_batches  # noqa: E402

CLASSES = ("recs", "user", "events")
MIX = (0.6, 0.2, 0.2)
EVENTS_PER_POST = 5
GET_POOL = 65_536  # distinct GET requests per class; the draw of which one is per request
# Outcome codes next to HTTP statuses in the per-request status array.
NOT_DONE, IO_ERROR, TIMEOUT = 0, -1, -2


def build_requests(args: argparse.Namespace) -> tuple[list[bytes], np.ndarray]:
    """All raw requests of the run in send order, and their class (index into CLASSES)."""
    rng = np.random.default_rng(args.seed)
    total = int(args.rate * args.minutes * 60)
    classes = rng.choice(len(CLASSES), total, p=MIX).astype(np.int8)
    host = f"Host: {LOCALHOST}:{args.port}\r\nAuthorization: Bearer {args.token}\r\n"

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\n{host}\r\n".encode("latin-1")

    recs = [get(f"/v1/recommendations?user_id=u{u}&n=10") for u in rng.integers(0, args.users, GET_POOL).tolist()]
    users = [get(f"/v1/users/u{u}") for u in rng.integers(0, args.users, GET_POOL).tolist()]
    n_posts = int((classes == 2).sum())
    bodies = live_batches(args.users, args.items)(n_posts, EVENTS_PER_POST, args.tag)
    head = f"POST /v1/events HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: "
    posts = iter([f"{head}{len(b)}\r\n\r\n".encode("latin-1") + b for b in bodies])
    del bodies
    picks = rng.integers(0, GET_POOL, total).tolist()
    out = [recs[k] if c == 0 else users[k] if c == 1 else next(posts)
           for c, k in zip(classes.tolist(), picks)]
    return out, classes


async def run(args: argparse.Namespace, requests: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The open loop; returns per request: latency ms (NaN: no response), status, dispatch lag ms."""
    total = len(requests)
    latency = np.full(total, np.nan, dtype=np.float64)
    status = np.zeros(total, dtype=np.int16)
    lag = np.zeros(total, dtype=np.float32)
    queue: asyncio.Queue = asyncio.Queue()
    start = time.perf_counter() + 0.1  # a little lead so the first requests are not already late
    print(f"START {time.time() + 0.1:.3f}", flush=True)

    async def worker() -> None:
        conn = Connection(LOCALHOST, args.port)
        while (i := await queue.get()) is not None:
            due = start + i / args.rate
            try:
                async with asyncio.timeout(args.timeout):
                    code = await conn.request(requests[i])
            except TimeoutError:
                status[i] = TIMEOUT
                conn.close()
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                status[i] = IO_ERROR
                conn.close()
                continue
            latency[i] = (time.perf_counter() - due) * 1000.0
            status[i] = code
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(args.connections)]
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag[i] = max(0.0, (time.perf_counter() - due) * 1000.0)  # late wake-ups enqueue at once
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(None)
    # Bounded drain: whatever is still queued or in flight after this stays NOT_DONE.
    _, pending = await asyncio.wait(workers, timeout=args.timeout + 5.0)
    for task in pending:
        task.cancel()
    return latency, status, lag, start


def _pcts(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = np.percentile(values, (50, 99))
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3), "max": round(float(values.max()), 3)}


def class_stats(lat: np.ndarray, st: np.ndarray) -> dict:
    """Counts, errors by kind and latency percentiles (over the responses that came back)."""
    ok = int(((st >= 200) & (st < 300)).sum())
    non_2xx = int((st >= 300).sum() + ((st > 0) & (st < 200)).sum())
    errors = {"non_2xx": non_2xx, "io": int((st == IO_ERROR).sum()), "timeout": int((st == TIMEOUT).sum()),
              "incomplete": int((st == NOT_DONE).sum())}
    return {"count": int(st.size), "ok": ok, "errors": sum(errors.values()), "error_kinds": errors,
            **_pcts(lat[~np.isnan(lat)])}


def summarize(args: argparse.Namespace, classes: np.ndarray, latency: np.ndarray, status: np.ndarray,
              lag: np.ndarray) -> dict:
    """Per minute (by scheduled send time) and overall, per class and for all requests."""
    sched_s = np.arange(latency.size) / args.rate
    minute = (sched_s // 60).astype(np.int64)
    second = sched_s.astype(np.int64)
    done_s = sched_s + np.nan_to_num(latency, nan=np.inf) / 1000.0  # when each response came back

    def block(mask: np.ndarray) -> dict:
        out = {"all": class_stats(latency[mask], status[mask])}
        for k, name in enumerate(CLASSES):
            sub = mask & (classes == k)
            out[name] = class_stats(latency[sub], status[sub])
        done = mask & ~np.isnan(latency)
        # The worst request of each second: one bad second is a stall, many an overload.
        sec_max = np.zeros(int(second.max()) + 1 if second.size else 0)
        np.maximum.at(sec_max, second[done], latency[done])
        secs = np.unique(second[mask])
        out["seconds"] = int(secs.size)
        out["seconds_over_25ms"] = int((sec_max[secs] > 25).sum())
        out["seconds_over_50ms"] = int((sec_max[secs] > 50).sum())
        # Responses that came back within the block's scheduled span, per second: under the
        # target rate the server (or the machine) could not keep up: OVERLOADED.
        lo, hi = float(sched_s[mask].min()), float(sched_s[mask].max()) + 1.0 / args.rate
        out["achieved_rate"] = round(float(((done_s >= lo) & (done_s < hi)).sum()) / (hi - lo), 1)
        out["overloaded"] = out["achieved_rate"] < 0.95 * args.rate
        out["events_acked"] = EVENTS_PER_POST * int((mask & (classes == 2) & (status == 200)).sum())
        out["dispatch_lag_ms"] = _pcts(lag[mask])
        statuses, counts = np.unique(status[mask], return_counts=True)
        out["statuses"] = {str(s): int(c) for s, c in zip(statuses.tolist(), counts.tolist())}
        return out

    minutes = [{"minute": m + 1, **block(minute == m)} for m in range(int(minute.max()) + 1 if minute.size else 0)]
    return {"rate": args.rate, "minutes_run": args.minutes, "connections": args.connections, "mix": dict(zip(CLASSES, MIX)),
            "events_per_post": EVENTS_PER_POST, "per_minute": minutes, "overall": block(np.ones(latency.size, bool))}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="the soak's open-loop mixed load (127.0.0.1 only)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--rate", type=float, required=True, help="requests per second, all classes together")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--tag", default=f"soak{int(time.time())}", help="event id prefix (unique per run)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if not 0 < args.minutes <= 60 or not 0 < args.rate <= 20_000:
        p.error("need 0 < minutes <= 60 and 0 < rate <= 20000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    requests, classes = build_requests(args)
    build_s = time.perf_counter() - t0
    try:
        import uvloop

        uvloop.install()  # the generator must be cheaper than the server it measures
    except ImportError:
        pass
    latency, status, lag, _ = asyncio.run(run(args, requests))
    result = summarize(args, classes, latency, status, lag)
    result["build_s"] = round(build_s, 2)
    result["post_bytes_mean"] = round(float(np.mean([len(r) for r, c in zip(requests, classes) if c == 2] or [0])), 1)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
