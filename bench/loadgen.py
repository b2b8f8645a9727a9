"""Open-loop, fixed-rate HTTP/1.1 load generator on asyncio raw streams.

Why open loop: a closed-loop client (wrk, ab) waits for a response before sending the next
request, so when the server stalls it simply stops sending and the stall hides from the
percentiles ("coordinated omission"). Here request *i* is scheduled at ``t0 + i / rate``
whatever happens, handed to whichever keep-alive connection is free, and its latency is
measured from that *scheduled* time: time spent queued behind a slow response counts.

Run it in its own process, never inside the server:

    .venv/bin/python bench/loadgen.py --port 8000 --rate 1000 --duration 20 \
        --paths-file paths.txt --header "Authorization: Bearer $KEY" --json

``--mode closed`` instead keeps every connection busy back to back (max throughput; no
coordinated-omission correction, like wrk). Output: achieved rate, latency percentiles (ms),
error counts (non-2xx statuses, I/O errors, timeouts, requests never completed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import LOCALHOST, percentiles  # noqa: E402


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)  # recorded (post-warm-up) requests only
    lags_ms: list[float] = field(default_factory=list)  # dispatcher lateness: is the generator keeping up?
    statuses: Counter = field(default_factory=Counter)
    io_errors: int = 0
    timeouts: int = 0
    sent: int = 0
    completed: int = 0
    last_done: float = 0.0
    t0: float = 0.0  # start of the measured window, for the per-second timeline
    timeline: dict[int, list[float]] = field(default_factory=dict)  # second -> [count, max latency ms]


def build_request(path: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, keep_alive). Handles Content-Length and chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, keep_alive = 0, False, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep_alive = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # chunk + CRLF (the last one: just CRLF)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


class Connection:
    """One keep-alive connection that reconnects after any error."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        status, keep_alive = await read_response(self.reader)
        if not keep_alive:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _one(conn: Connection, raw: bytes, origin: float, record: bool, stats: Stats, timeout: float) -> None:
    """Send one request on ``conn``; latency counts from ``origin`` (the scheduled time)."""
    try:
        async with asyncio.timeout(timeout):
            status = await conn.request(raw)
    except TimeoutError:
        stats.timeouts += 1
        conn.close()
        return
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        stats.io_errors += 1
        conn.close()
        return
    done = time.perf_counter()
    stats.completed += 1
    stats.last_done = done
    if record:
        ms = (done - origin) * 1000.0
        stats.statuses[status] += 1
        stats.latencies_ms.append(ms)
        # A per-second view shows whether the tail is one stall or a steady overload.
        bucket = stats.timeline.setdefault(int(origin - stats.t0), [0, 0.0])
        bucket[0] += 1
        bucket[1] = max(bucket[1], ms)


async def run_open(host: str, port: int, requests: list[bytes], rate: float, duration: float,
                   connections: int, timeout: float, warmup: float) -> tuple[Stats, float]:
    """Schedule ``rate * duration`` requests at fixed times; returns stats and the start time."""
    stats = Stats()
    queue: asyncio.Queue = asyncio.Queue()
    total = int(rate * duration)
    start = time.perf_counter() + 0.1  # a little lead so the first requests are not already late
    recorded_from = int(rate * warmup)
    stats.t0 = start + warmup

    async def worker() -> None:
        conn = Connection(host, port)
        while (job := await queue.get()) is not None:
            i, due = job
            await _one(conn, requests[i % len(requests)], due, i >= recorded_from, stats, timeout)
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        # Late wake-ups are caught up by enqueueing at once: the schedule, not the loop, rules.
        stats.lags_ms.append(max(0.0, (time.perf_counter() - due) * 1000.0))
        queue.put_nowait((i, due))
        stats.sent += 1
    for _ in workers:
        queue.put_nowait(None)
    # Bounded drain: whatever is still queued or in flight after this counts as incomplete.
    _, pending = await asyncio.wait(workers, timeout=timeout + 5.0)
    for task in pending:
        task.cancel()
    return stats, start


async def run_closed(host: str, port: int, requests: list[bytes], duration: float,
                     connections: int, timeout: float, warmup: float) -> tuple[Stats, float]:
    """Every connection sends its next request as soon as the previous response is in."""
    stats = Stats()
    start = time.perf_counter()
    end = start + warmup + duration
    record_after = stats.t0 = start + warmup

    async def worker(offset: int) -> None:
        conn = Connection(host, port)
        i = offset
        while (now := time.perf_counter()) < end:
            await _one(conn, requests[i % len(requests)], now, now >= record_after, stats, timeout)
            stats.sent += 1
            i += connections
        conn.close()

    await asyncio.wait([asyncio.create_task(worker(k)) for k in range(connections)], timeout=warmup + duration + timeout + 5.0)
    return stats, start


def summarize(stats: Stats, args: argparse.Namespace, start: float) -> dict:
    recorded = sum(stats.statuses.values())
    ok = sum(n for s, n in stats.statuses.items() if 200 <= s < 300)
    measured_start = start + args.warmup
    span = max(stats.last_done - measured_start, 1e-9)
    incomplete = stats.sent - stats.completed - stats.io_errors - stats.timeouts
    return {
        "mode": args.mode,
        "target_rate": args.rate if args.mode == "open" else None,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "sent": stats.sent,
        "completed": stats.completed,
        "recorded": recorded,
        "ok_2xx": ok,
        "errors_non_2xx": recorded - ok,
        "errors_io": stats.io_errors,
        "errors_timeout": stats.timeouts,
        "incomplete": max(incomplete, 0),
        "errors_total": recorded - ok + stats.io_errors + stats.timeouts + max(incomplete, 0),
        "achieved_rate": recorded / span,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "latency_ms": percentiles(stats.latencies_ms),
        "dispatch_lag_ms": percentiles(stats.lags_ms, (50, 99)) if stats.lags_ms else None,
        "timeline": [{"second": k, "count": v[0], "max_ms": round(v[1], 2)} for k, v in sorted(stats.timeline.items())],
    }


def load_paths(args: argparse.Namespace) -> list[str]:
    if args.paths_file:
        paths = [line.strip() for line in Path(args.paths_file).read_text().splitlines() if line.strip()]
    else:
        paths = list(args.path or ["/"])
    if not paths:
        raise SystemExit("no request paths")
    return paths


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="open-loop fixed-rate HTTP/1.1 load generator (127.0.0.1 only)")
    p.add_argument("--host", default=LOCALHOST, choices=[LOCALHOST], help="loopback only, by design")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["open", "closed"], default="open")
    p.add_argument("--rate", type=float, default=1000.0, help="requests per second (open mode)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (max 600)")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds of load sent first and not recorded")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    p.add_argument("--path", action="append", help="request path (repeatable); rotated in order")
    p.add_argument("--paths-file", help="file with one request path per line; rotated in order")
    p.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio loop")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = p.parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 60 or not 0 < args.rate <= 100_000:
        p.error("need 0 < duration <= 600, 0 <= warmup <= 60, 0 < rate <= 100000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    headers = [tuple(part.strip() for part in h.split(":", 1)) for h in args.header]
    requests = [build_request(path, f"{args.host}:{args.port}", headers) for path in load_paths(args)]
    if not args.no_uvloop:
        try:
            import uvloop

            uvloop.install()  # the generator must be cheaper than the server it measures
        except ImportError:
            pass
    if args.mode == "open":
        stats, start = asyncio.run(run_open(args.host, args.port, requests, args.rate, args.duration + args.warmup,
                                            args.connections, args.timeout, args.warmup))
    else:
        stats, start = asyncio.run(run_closed(args.host, args.port, requests, args.duration,
                                              args.connections, args.timeout, args.warmup))
    result = summarize(stats, args, start)
    if args.json:
        print(json.dumps(result))
    else:
        lat = result["latency_ms"]
        print(f"{args.mode}: sent {result['sent']}, achieved {result['achieved_rate']:.0f} req/s, "
              f"errors {result['errors_total']} (non-2xx {result['errors_non_2xx']}, io {result['errors_io']}, "
              f"timeout {result['errors_timeout']}, incomplete {result['incomplete']})")
        print(f"latency ms: p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}  "
              f"p99.9 {lat['p99.9']:.2f}  max {lat['max']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
