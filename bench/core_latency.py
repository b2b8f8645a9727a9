"""Core benchmark, latency steps: open loops at fractions of the engine's own max throughput,
and one open loop while 4 clients ingest at the same time (issue 14).

Rates are not fixed numbers: they are fractions (25%, 70%) of the recommendation max RPS
measured earlier in the same run, so the figures compare across machines. Each run reports
p50/p99/max and the per-second view: in how many one-second windows some request took
over 10 ms or over 50 ms (one bad second is a stall, all of them an overload).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Callable

from benchlib import BENCH_DIR, CpuMonitor, python_exe
from core_data import Report, _verdict, record_cpu
from ingest_bench import run_ingest

SECOND_EDGES_MS = (1, 2, 5, 10, 25, 50, 100, 250, 1000)  # buckets of the per-second max latency


def write_paths(path: Path, n_users: int, count: int = 20_000, unknown_pct: int = 5, seed: int = 3,
                placement: str | None = None) -> None:
    """Request paths for the load generator: random real users and a few unknown ones."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        user = f"anon-{rng.randrange(10**9)}" if rng.randrange(100) < unknown_pct else f"u{rng.randrange(n_users)}"
        lines.append(f"/v1/recommendations?user_id={user}&n=10" + (f"&placement={placement}" if placement else ""))
    path.write_text("\n".join(lines) + "\n")


def loadgen_cmd(args, port: int, token: str, paths: Path, rate: float) -> list[str]:
    return [python_exe(), str(BENCH_DIR / "loadgen.py"), "--port", str(port), "--rate", f"{rate:.1f}",
            "--duration", str(args.rate_seconds), "--warmup", "1", "--connections", str(args.connections),
            "--paths-file", str(paths), "--header", f"Authorization: Bearer {token}", "--json"]


def seconds_view(timeline: list[dict]) -> dict:
    """The per-second maximum latency: counts over 10 and 50 ms, and a histogram of the maxima."""
    maxima = [b["max_ms"] for b in timeline]
    hist: dict[str, int] = {}
    lower = 0.0
    for edge in (*SECOND_EDGES_MS, float("inf")):
        label = f"<={edge:g}ms" if edge != float("inf") else f">{lower:g}ms"
        hist[label] = sum(1 for m in maxima if lower < m <= edge)
        lower = edge
    return {"seconds": len(maxima), "over_10ms": sum(m > 10 for m in maxima), "over_50ms": sum(m > 50 for m in maxima),
            "histogram": hist, "max_per_second_ms": maxima}


def _report_run(report: Report, step: str, res: dict, note: str = "") -> None:
    lat, view = res["latency_ms"], res["seconds_view"]
    overloaded = res["achieved_rate"] < 0.95 * res["target_rate"]
    report.add(step, "target / achieved rate", f"{res['target_rate']:,.0f} / {res['achieved_rate']:,.0f}", "req/s",
               f"errors {res['errors_total']}" + ("; OVERLOADED: the server fell behind the schedule" if overloaded else ""))
    report.add(step, "latency p50 / p99 / max", f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['max']:.1f}", "ms", note)
    worst = max(res["timeline"], key=lambda b: b["max_ms"], default=None)
    report.add(step, "seconds with a request over 10 / 50 ms",
               f"{view['over_10ms']} / {view['over_50ms']} of {view['seconds']}", "",
               f"worst: second {worst['second']}, {worst['max_ms']:.1f} ms" if worst else "")
    busy = {k: v for k, v in view["histogram"].items() if v}
    report.add(step, "per-second max latency histogram", ", ".join(f"{k}: {v}" for k, v in busy.items()), "seconds")
    lag = res.get("dispatch_lag_ms") or {}
    if lag.get("p99", 0) > 1.0:
        report.add(step, "generator dispatch lag p99", lag["p99"], "ms", "generator itself was late (CPU contention)")


def _parse(proc_stdout: str, proc_stderr: str, rc: int) -> dict:
    if rc != 0:
        raise RuntimeError(f"loadgen failed ({rc}):\n{proc_stderr}")
    res = json.loads(proc_stdout)
    res["seconds_view"] = seconds_view(res["timeline"])
    return res


def step_open_loop(args, port: int, token: str, paths: Path, max_rps: float, report: Report, results: dict,
                   monitor: CpuMonitor) -> None:
    """Open-loop latency at ``--rate-fractions`` of the measured max (and any fixed ``--rates``)."""
    runs = [(f"rate-{f:.0%}", f * max_rps, f) for f in args.rate_fractions]
    runs += [(f"rate-{r:g}", r, None) for r in args.rates]
    results["open_loop"] = []
    for step, rate, fraction in runs:
        mark = monitor.mark()
        proc = subprocess.run(loadgen_cmd(args, port, token, paths, rate), capture_output=True, text=True,
                              timeout=args.rate_seconds + 90)
        res = _parse(proc.stdout, proc.stderr, proc.returncode)
        res.update(step=step, fraction_of_max=fraction)
        results["open_loop"].append(res)
        _report_run(report, step, res, f"{fraction:.0%} of max {max_rps:,.0f} req/s" if fraction else "fixed rate")
        record_cpu(report, results, monitor, mark, step)


def step_mixed(args, port: int, token: str, paths: Path, max_rps: float,
               make_batches: Callable[[int, int, str], list[bytes]], report: Report, results: dict,
               monitor: CpuMonitor) -> None:
    """The ``--mixed-fraction`` open loop while ``--mixed-clients`` clients POST 1k-event batches.

    The batches are built before the clock starts; the ingest clients run in this process
    (asyncio) for the whole loadgen run, the loadgen in its own process.
    """
    size, clients = args.mixed_batch, args.mixed_clients
    n_batches = max(clients, args.ingest_max_events // size)
    bodies = make_batches(n_batches, size, f"mixed-{int(time.time())}")
    rate = args.mixed_fraction * max_rps
    step = f"mixed-{args.mixed_fraction:.0%}"
    mark = monitor.mark()
    proc = subprocess.Popen(loadgen_cmd(args, port, token, paths, rate), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # 1 s warm-up + measured seconds + the generator's 0.1 s lead: ingest covers all of it.
        ingest = asyncio.run(run_ingest(port, token, bodies, clients, args.rate_seconds + 1.2))
        out, err = proc.communicate(timeout=args.rate_seconds + 90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    del bodies
    res = _parse(out, err, proc.returncode)
    ingest.update(batch_size=size, clients=clients)
    res.update(step=step, fraction_of_max=args.mixed_fraction, ingest=ingest)
    results["mixed"] = res
    _report_run(report, step, res, f"{args.mixed_fraction:.0%} of max while {clients} clients ingest {size:,}-event batches")
    per_second = " ".join(f"{m:.0f}" for m in res["seconds_view"]["max_per_second_ms"][:60])
    report.add(step, "max latency of each second", per_second, "ms")
    report.add(step, "ingest meanwhile: events/s, errors", f"{ingest['events_per_s']:,.0f}, {ingest['errors']}", "",
               f"over {ingest['elapsed_s']:.1f}s of the {args.rate_seconds + 1:g}s run"
               + (" (ran out of prepared batches)" if ingest["exhausted"] else ""))
    report.add(step, "no second over 50 ms while ingesting", _verdict(res["seconds_view"]["over_50ms"] == 0), "")
    record_cpu(report, results, monitor, mark, step)
