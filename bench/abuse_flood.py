"""Abuse limits under a flood (issue 15): does a legitimate client keep its latency while
someone floods the server with wrong keys and with a valid key far over its rate limit?

1. ``tastemaker serve`` on an empty data dir (the embedded SQLite default), rate limits from
   ``--limits`` (``TASTEMAKER_RATE_LIMITS``; the others keep their defaults); a small catalogue
   and event log posted over HTTP; two read keys: the legitimate client's and the abuser's.
2. Unloaded: the legitimate client alone, open loop at ``--rate`` req/s for ``--seconds``
   (bench/loadgen.py in its own process, from 127.0.0.1): GET /v1/recommendations.
3. Flooded: the same client again while another process sends ``--flood`` requests with
   wrong keys (a fresh token each: none can be cached) and ``--flood`` with the abuser's key,
   paced over the same seconds, from 127.0.0.2 (its own client address, Linux loopback).
4. Prints the legitimate p50/p99 of both runs, the p99 ratio (target <= 2), and the flood's
   status counts (expected: 401 then 429 for the wrong keys; 200 within the key's burst, then
   429), with the flood's achieved rate.

    .venv/bin/python bench/abuse_flood.py                  # ~1 minute
    .venv/bin/python bench/abuse_flood.py --seconds 5 --flood 5000 --rate 50   # smoke

Every process is started here and stopped here; traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BENCH_DIR, LOCALHOST, free_port, python_exe, stop_process, tastemaker_cmd, wait_ready  # noqa: E402
from loadgen import build_request, read_response  # noqa: E402

FLOOD_SOURCE = "127.0.0.2"  # another client address on Linux loopback: the flood's own buckets
N_ITEMS, N_USERS, N_EVENTS = 2000, 1000, 20_000


def call(port: int, method: str, path: str, token: str, body: object = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{LOCALHOST}:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def load(port: int, admin: str, seed: int = 7) -> tuple[str, str]:
    """A catalogue and an event log; returns the tokens of two read keys (legit, abuser)."""
    import random

    rng = random.Random(seed)
    call(port, "POST", "/v1/items", admin, [{"id": f"i{k}", "categories": [f"c{k % 20}"]} for k in range(N_ITEMS)])
    events = [{"id": f"e{k}", "type": "view", "user_id": f"u{rng.randrange(N_USERS)}",
               "item_id": f"i{min(int(rng.paretovariate(1.2)) - 1, N_ITEMS - 1)}"} for k in range(N_EVENTS)]
    for start in range(0, N_EVENTS, 10_000):
        call(port, "POST", "/v1/events", admin, events[start:start + 10_000])
    return tuple(call(port, "POST", "/v1/keys", admin, {"name": name, "scopes": ["read"]})["token"]
                 for name in ("legit", "abuser"))  # type: ignore[return-value]


def legit_run(port: int, token: str, rate: float, seconds: float, paths: Path) -> dict:
    """The legitimate client: bench/loadgen.py, open loop, in its own process."""
    cmd = [python_exe(), str(BENCH_DIR / "loadgen.py"), "--port", str(port), "--rate", str(rate), "--duration", str(seconds),
           "--connections", "8", "--paths-file", str(paths), "--header", f"Authorization: Bearer {token}", "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # type: ignore[return-value]


# -- the flood (its own process: --role flood) ------------------------------------------------


async def flood(port: int, abuser: str, n: int, seconds: float, connections: int) -> dict:
    """``n`` wrong-key and ``n`` over-limit requests, interleaved, paced over ``seconds``."""
    counts: dict[str, Counter] = {"wrong_key": Counter(), "over_limit": Counter()}
    queue: asyncio.Queue = asyncio.Queue()
    host = f"{LOCALHOST}:{port}"

    async def worker() -> None:
        reader = writer = None
        while (job := await queue.get()) is not None:
            kind, raw = job
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(LOCALHOST, port, local_addr=(FLOOD_SOURCE, 0))
                writer.write(raw)
                status, keep_alive = await read_response(reader)
                counts[kind][status] += 1
                if not keep_alive:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError):
                counts[kind]["io_error"] += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter()
    for i in range(2 * n):
        due = start + i * seconds / (2 * n)
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        user = f"u{i % N_USERS}"
        if i % 2:
            queue.put_nowait(("over_limit", build_request(f"/v1/recommendations?user_id={user}", host,
                                                          [("Authorization", f"Bearer {abuser}")])))
        else:  # a fresh wrong token each time, shaped like a real one
            token = f"tm_{secrets.token_hex(6)}_{secrets.token_urlsafe(24)}"
            queue.put_nowait(("wrong_key", build_request(f"/v1/recommendations?user_id={user}", host,
                                                         [("Authorization", f"Bearer {token}")])))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rate": 2 * n / elapsed, **{k: {str(s): c for s, c in sorted(v.items(), key=str)}
                                                          for k, v in counts.items()}}


def flood_process(port: int, abuser: str, n: int, seconds: float) -> subprocess.Popen:
    cmd = [python_exe(), __file__, "--role", "flood", "--port", str(port), "--abuser", abuser, "--flood", str(n),
           "--seconds", str(seconds)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


# -- the orchestration ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="abuse-flood-"))
    admin = "tm_benchadmin_" + secrets.token_urlsafe(24)
    port = free_port()
    env = {**os.environ, "TASTEMAKER_ADMIN_KEY": admin, "TASTEMAKER_RATE_LIMITS": args.limits,
           "TASTEMAKER_NO_PROGRESS": "1"}
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen([*tastemaker_cmd(), "serve", "--data-dir", str(tmp / "data"), "--port", str(port),
                               "--host", LOCALHOST], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(server, f"http://{LOCALHOST}:{port}/readyz", 120)
        legit, abuser = load(port, admin)
        paths = tmp / "paths.txt"
        paths.write_text("".join(f"/v1/recommendations?user_id=u{k}\n" for k in range(N_USERS)))
        for token in (legit, abuser):  # each key verified once, as a running client's would be
            call(port, "GET", "/v1/recommendations?user_id=u0", token)
        results: dict = {"limits": args.limits, "legit_rate": args.rate, "seconds": args.seconds, "flood_each": args.flood}
        proc = legit_run(port, legit, args.rate, args.seconds, paths)
        results["unloaded"] = json.loads(proc.communicate(timeout=args.seconds + 60)[0])
        flooder = flood_process(port, abuser, args.flood, args.seconds)
        proc = legit_run(port, legit, args.rate, args.seconds, paths)
        results["flooded"] = json.loads(proc.communicate(timeout=args.seconds + 120)[0])
        results["flood"] = json.loads(flooder.communicate(timeout=args.seconds + 120)[0])
        return results
    finally:
        stop_process(server, grace_s=20)
        log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)


def report(r: dict) -> None:
    un, fl = r["unloaded"]["latency_ms"], r["flooded"]["latency_ms"]
    ratio = fl["p99"] / un["p99"]
    print(f"limits: TASTEMAKER_RATE_LIMITS={r['limits']!r} (others default); legit client {r['legit_rate']:g} req/s "
          f"for {r['seconds']:g} s from {LOCALHOST}; flood {r['flood_each']} wrong-key + {r['flood_each']} over-limit "
          f"from {FLOOD_SOURCE}")
    print(f"legit unloaded : p50 {un['p50']:.2f} ms  p99 {un['p99']:.2f} ms  statuses {r['unloaded']['statuses']}")
    print(f"legit flooded  : p50 {fl['p50']:.2f} ms  p99 {fl['p99']:.2f} ms  statuses {r['flooded']['statuses']}")
    print(f"legit p99 ratio flooded/unloaded: {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'})")
    f = r["flood"]
    print(f"flood: {f['seconds']:.1f} s at {f['rate']:.0f} req/s; wrong key {f['wrong_key']}; over limit {f['over_limit']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--role", choices=["bench", "flood"], default="bench", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--abuser", help=argparse.SUPPRESS)
    p.add_argument("--limits", default="read=200/s:400", help="TASTEMAKER_RATE_LIMITS for the server")
    p.add_argument("--rate", type=float, default=100.0, help="the legitimate client's requests per second")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    p.add_argument("--flood", type=int, default=10_000, help="wrong-key requests, and as many over the limit")
    p.add_argument("--connections", type=int, default=32, help="the flood's connections")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and server log")
    args = p.parse_args(argv)
    if args.role == "flood":
        print(json.dumps(asyncio.run(flood(args.port, args.abuser, args.flood, args.seconds, args.connections))))
        return 0
    results = run(args)
    report(results)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
