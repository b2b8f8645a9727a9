"""The core benchmark, end to end, run the way a user runs tastemaker.

generate -> import (CLI) -> [train (CLI), --train-family] -> serve (CLI, subprocess) -> hello-world ceiling (wrk) ->
recommendation max RPS (wrk) -> latency at fixed rates (open-loop loadgen, own process) ->
durable ingest -> freshness -> stop -> warm restart (from the snapshot) -> clean up.

    .venv/bin/python bench/run_core.py                      # full sizes (several minutes)
    .venv/bin/python bench/run_core.py --events 200000 --items 10000 --users 5000 \
        --rate-seconds 5 --wrk-seconds 3 --ingest-seconds 5 --fresh-trials 20   # smoke

Prints a table and writes ``bench/results/core-<timestamp>.json`` (git-ignored). All traffic
goes to 127.0.0.1; every loop and subprocess is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BENCH_DIR, LOCALHOST, CpuMonitor, children_of, cpu_seconds, dump_json, free_port, hardware_info,
    python_exe, rss_mib, source_fingerprint, stop_process, tail, tastemaker_cmd, wait_ready,
)
from core_data import Report, _verdict, step_generate, step_import, step_placement, step_train  # noqa: E402
from freshness import run_freshness  # noqa: E402
from ingest_bench import build_batches, run_ingest  # noqa: E402

TARGET_P99_MS = 10.0
TARGET_P99_PLACEMENT_MS = 15.0  # issue 4: with rules, MMR and the ranker
TARGET_RATE = 1000.0
TARGET_INGEST_EPS = 20_000.0


def start_server(data: Path, port: int, env: dict[str, str], log: Path, timeout: float,
                 monitor: CpuMonitor) -> tuple[subprocess.Popen, float]:
    """c. ``tastemaker serve`` as a user starts it; seconds until /readyz answers 200."""
    with log.open("ab") as out:
        proc = subprocess.Popen([*tastemaker_cmd(), "serve", "--data-dir", str(data), "--port", str(port), "--host", LOCALHOST],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    monitor.server_pid = proc.pid  # its CPU (replay included) counts as the server's from now on
    try:
        return proc, wait_ready(proc, f"http://{LOCALHOST}:{port}/readyz", timeout)
    except Exception:
        stop_process(proc, grace_s=5)
        raise RuntimeError(f"server did not become ready; log tail:\n{tail(log)}")


def run_wrk(port: int, path: str, seconds: float, connections: int, script_args: list[str]) -> dict:
    """One wrk run with bench/wrk_bench.lua; returns its JSON summary plus requests/s."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--timeout", "5s",
           "-s", str(BENCH_DIR / "wrk_bench.lua"), f"http://{LOCALHOST}:{port}{path}", "--", *script_args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary:\n{proc.stdout}\n{proc.stderr}")
    out = json.loads(line[5:])
    out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
    out["errors_total"] = sum(out["errors"].values())
    return out


def step_hello(args, env, report: Report, results: dict) -> float:
    """d. The ceiling: raw ASGI hello-world on the same uvicorn stack, then stopped."""
    port = free_port()
    proc = subprocess.Popen([python_exe(), str(BENCH_DIR / "hello_asgi.py"), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(proc, f"http://{LOCALHOST}:{port}/", 30)
        run_wrk(port, "/", 2, args.wrk_connections, [])  # warm-up, not recorded
        cpu0 = cpu_seconds(proc.pid)
        res = run_wrk(port, "/", args.wrk_seconds, args.wrk_connections, [])
        cpu1 = cpu_seconds(proc.pid)
        if cpu0 is not None and cpu1 is not None and res["requests"]:
            res["server_cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / res["requests"]
    finally:
        stop_process(proc, grace_s=10)  # so it does not steal CPU from what follows
    results["hello"] = res
    lat = res["latency_us"]
    report.add("hello", "max RPS (wrk -t1 -c%d)" % args.wrk_connections, res["rps"], "req/s",
               f"p50 {lat['p50'] / 1000:.2f} ms, p99 {lat['p99'] / 1000:.2f} ms, errors {res['errors_total']}")
    if "server_cpu_ms_per_request" in res:
        report.add("hello", "server CPU per request", res["server_cpu_ms_per_request"], "ms")
    return res["rps"]


def step_wrk_recs(args, port: int, token: str, pid: int, hello_rps: float, report: Report, results: dict) -> None:
    """e. Recommendation max RPS over varying real users plus 5% unknown ones."""
    script_args = [token, str(args.users), "5", *([args.placement] if args.placement else [])]
    run_wrk(port, "/", 3, args.wrk_connections, script_args)  # warm caches and top lists
    cpu0 = cpu_seconds(pid)
    res = run_wrk(port, "/", args.wrk_seconds, args.wrk_connections, script_args)
    cpu1 = cpu_seconds(pid)
    if cpu0 is not None and cpu1 is not None and res["requests"]:
        res["server_cpu_ms_per_request"] = (cpu1 - cpu0) * 1000 / res["requests"]
    results["recs_wrk"] = res
    lat = res["latency_us"]
    report.add("recs-max", "max RPS (wrk, varying users)", res["rps"], "req/s",
               f"errors {res['errors_total']} (non-2xx {res['errors']['status']})")
    report.add("recs-max", "wrk latency p50 / p90 / p99 / max",
               f"{lat['p50'] / 1000:.2f} / {lat['p90'] / 1000:.2f} / {lat['p99'] / 1000:.2f} / {lat['max'] / 1000:.1f}", "ms",
               "closed loop: not corrected for coordinated omission")
    if "server_cpu_ms_per_request" in res:
        report.add("recs-max", "server CPU per request", res["server_cpu_ms_per_request"], "ms")
    report.add("recs-max", "ratio recs RPS / hello RPS", res["rps"] / hello_rps if hello_rps else 0.0, "")


def write_paths(path: Path, n_users: int, count: int = 20_000, unknown_pct: int = 5, seed: int = 3,
                placement: str | None = None) -> None:
    """Request paths for the load generator: random real users and a few unknown ones."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        user = f"anon-{rng.randrange(10**9)}" if rng.randrange(100) < unknown_pct else f"u{rng.randrange(n_users)}"
        lines.append(f"/v1/recommendations?user_id={user}&n=10" + (f"&placement={placement}" if placement else ""))
    path.write_text("\n".join(lines) + "\n")


def step_fixed_rate(args, port: int, token: str, paths: Path, report: Report, results: dict, monitor: CpuMonitor) -> None:
    """f. Open-loop latency at fixed rates, generator in its own process."""
    results["fixed_rate"] = []
    target_ms = TARGET_P99_PLACEMENT_MS if args.placement else TARGET_P99_MS
    for rate in args.rates:
        mark = monitor.mark()
        cmd = [python_exe(), str(BENCH_DIR / "loadgen.py"), "--port", str(port), "--rate", str(rate),
               "--duration", str(args.rate_seconds), "--warmup", "1", "--connections", str(args.connections),
               "--paths-file", str(paths), "--header", f"Authorization: Bearer {token}", "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.rate_seconds + 90)
        if proc.returncode != 0:
            raise RuntimeError(f"loadgen failed:\n{proc.stderr}")
        res = json.loads(proc.stdout)
        results["fixed_rate"].append(res)
        lat = res["latency_ms"]
        ok = lat["p99"] <= target_ms and res["achieved_rate"] >= 0.98 * rate and res["errors_total"] == 0
        target = f"target p99<={target_ms:g}ms: {_verdict(ok)}" if rate >= TARGET_RATE else ""
        report.add(f"rate-{rate:g}", "achieved rate", res["achieved_rate"], "req/s", f"errors {res['errors_total']}")
        report.add(f"rate-{rate:g}", "latency p50 / p90 / p99 / max",
                   f"{lat['p50']:.2f} / {lat['p90']:.2f} / {lat['p99']:.2f} / {lat['max']:.1f}", "ms", target)
        worst = max(res["timeline"], key=lambda b: b["max_ms"], default=None)
        if worst is not None:
            slow = sum(1 for b in res["timeline"] if b["max_ms"] > target_ms)
            report.add(f"rate-{rate:g}", f"seconds with a request over {target_ms:g} ms", f"{slow} of {len(res['timeline'])}", "",
                       f"worst: second {worst['second']}, {worst['max_ms']:.1f} ms")
        lag = res.get("dispatch_lag_ms") or {}
        if lag.get("p99", 0) > 1.0:
            report.add(f"rate-{rate:g}", "generator dispatch lag p99", lag["p99"], "ms", "generator itself was late (CPU contention)")
        record_cpu(report, results, monitor, mark, f"rate-{rate:g}")


def step_ingest(args, port: int, token: str, report: Report, results: dict, monitor: CpuMonitor) -> None:
    """g. Durable ingest with concurrent clients, per batch size."""
    results["ingest"] = []
    for size in args.ingest_batch_sizes:
        n_batches = max(1, args.ingest_max_events // size)
        t0 = time.perf_counter()
        bodies = build_batches(n_batches, size, args.users, args.items, tag=f"{int(time.time())}-{size}")
        build_s = time.perf_counter() - t0
        mark = monitor.mark()
        res = asyncio.run(run_ingest(port, token, bodies, args.ingest_clients, args.ingest_seconds))
        del bodies
        res.update(batch_size=size, clients=args.ingest_clients, build_s=build_s)
        results["ingest"].append(res)
        lat = res["batch_latency_ms"]
        report.add(f"ingest-{size}", "accepted events/s", res["events_per_s"], "ev/s",
                   f"target>={TARGET_INGEST_EPS:,.0f}: {_verdict(res['events_per_s'] >= TARGET_INGEST_EPS and res['errors'] == 0)}")
        report.add(f"ingest-{size}", "events / batches / errors",
                   f"{res['events_accepted']} / {res['batches_sent']} / {res['errors']}", "",
                   f"{res['elapsed_s']:.1f}s{', ran out of prepared batches' if res['exhausted'] else ''}")
        report.add(f"ingest-{size}", "batch latency p50 / p99 / max",
                   f"{lat['p50']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f}", "ms")
        record_cpu(report, results, monitor, mark, f"ingest-{size}")


def step_freshness(args, port: int, token: str, report: Report, results: dict) -> None:
    """h. The very next request must reflect the event."""
    res = run_freshness(port, token, args.fresh_trials, args.users, args.items, tag=secrets.token_hex(3))
    results["freshness"] = res
    for kind, label in (("purchase", "purchased item gone"), ("view", "viewed item in profile")):
        frac = res[f"{kind}_reflected_first_request"]
        ms = res[f"{kind}_reflect_ms"]
        report.add("freshness", f"{label}, next request ({res[f'{kind}_trials']} trials)", f"{frac:.1%}", "",
                   f"target 100%: {_verdict(frac == 1.0)}")
        report.add("freshness", f"{kind}: POST return -> reflecting response p50/p99",
                   f"{ms['p50']:.2f} / {ms['p99']:.2f}", "ms")
    report.add("freshness", "new user's next recs include covisitation", f"{res['view_next_recs_have_covisitation']:.1%}", "")
    post = res["single_event_post_ms"]
    report.add("freshness", "single-event POST (durable ack) p50 / p99", f"{post['p50']:.2f} / {post['p99']:.2f}", "ms")


def record_cpu(report: Report, results: dict, monitor: CpuMonitor, mark, step: str) -> None:
    """Who kept the CPUs busy during a step: on a shared 2-core box this explains outliers."""
    used = monitor.since(mark)
    results.setdefault("cpu_by_step", {})[step] = used
    report.add(step, "CPU cores busy: server / bench clients / other", "{server_cores:.2f} / {ours_cores:.2f} / {other_cores:.2f}".format(**used), "cores")


def settle(report: Report, results: dict, pid: int, timeout: float) -> None:
    """Wait (bounded) until the server has no child processes, e.g. a forked snapshot writer,
    so the load steps measure steady state; report how long that background work ran."""
    started = time.perf_counter()
    while children_of(pid) and time.perf_counter() - started < timeout:
        time.sleep(0.5)
    waited = time.perf_counter() - started
    left = children_of(pid)
    results.setdefault("startup", {})["background_after_ready_s"] = waited
    report.add("startup", "background work after ready (child processes)", waited, "s",
               f"still running: {left}" if left else "")


def record_rss(report: Report, results: dict, pid: int, label: str) -> None:
    mem = rss_mib(pid)
    if mem is not None:
        results.setdefault("server_memory", {})[label] = mem
        report.add("memory", f"server RSS {label}", mem["rss_mib"], "MiB", f"peak {mem['peak_rss_mib']:.0f} MiB")


# -- driver ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tastemaker core benchmark (127.0.0.1 only)")
    csv_floats = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
    csv_ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--formats", type=lambda s: s.split(","), default=["csv", "parquet"],
                   help="data set formats to generate and import; the first one is served")
    p.add_argument("--startup-timeout", type=float, default=300.0)
    p.add_argument("--wrk-seconds", type=float, default=10.0)
    p.add_argument("--wrk-connections", type=int, default=32)
    p.add_argument("--rates", type=csv_floats, default=[500.0, 1000.0, 1500.0])
    p.add_argument("--rate-seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=64, help="loadgen keep-alive connections")
    p.add_argument("--ingest-batch-sizes", type=csv_ints, default=[1000, 10000])
    p.add_argument("--ingest-seconds", type=float, default=15.0)
    p.add_argument("--ingest-max-events", type=int, default=600_000, help="events prepared per batch size")
    p.add_argument("--ingest-clients", type=int, default=4)
    p.add_argument("--fresh-trials", type=int, default=200)
    p.add_argument("--no-restart", action="store_true", help="skip the warm-restart measurement")
    p.add_argument("--settle-timeout", type=float, default=180.0,
                   help="max seconds to wait after start-up for the server's child processes (background snapshot) to finish; 0 = do not wait")
    p.add_argument("--tmp-dir", default=None, help="where the temporary data set and data dir go")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--placement", default=None, choices=["bench-rules-mmr", "bench-full"],
                   help="read requests name this staged placement (bench/placements_bench.py's file is "
                        "written into the data dir): the issue 4 latency target")
    p.add_argument("--train-family", default=None,
                   help="train and promote this model family before serving (e.g. als): the read path then "
                        "serves the trained model, warmed for every user at startup")
    p.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    args = p.parse_args(argv)
    # Bounds: every step is limited in time; reject sizes that would run for ages.
    if args.rate_seconds > 300 or args.wrk_seconds > 120 or args.ingest_seconds > 300 or args.fresh_trials > 10_000:
        p.error("keep --rate-seconds <= 300, --wrk-seconds <= 120, --ingest-seconds <= 300, --fresh-trials <= 10000")
    return args


def run_steps(args, env: dict[str, str], token: str, tmp: Path, report: Report, results: dict,
              monitor: CpuMonitor, running: list[subprocess.Popen]) -> None:
    """Steps a-i in order; servers still running if a step fails are left in ``running``."""
    datasets = step_generate(args, env, tmp, report)
    data = step_import(args, env, tmp, datasets, report, results)
    for path in datasets.values():
        shutil.rmtree(path, ignore_errors=True)
    if args.train_family:
        step_train(args, env, data, report, results)
    if args.placement:
        step_placement(args, data, report)
    port, log = free_port(), tmp / "server.log"
    mark = monitor.mark()
    server, startup = start_server(data, port, env, log, args.startup_timeout, monitor)
    running.append(server)
    report.add("startup", "cold start to /readyz 200 (replays the log)", startup, "s")
    record_rss(report, results, server.pid, "after cold start")
    results["startup"] = {"cold_s": startup}
    if args.settle_timeout > 0:
        settle(report, results, server.pid, args.settle_timeout)
    record_cpu(report, results, monitor, mark, "startup")
    mark = monitor.mark()
    hello_rps = step_hello(args, env, report, results)
    record_cpu(report, results, monitor, mark, "hello")
    mark = monitor.mark()
    step_wrk_recs(args, port, token, server.pid, hello_rps, report, results)
    record_cpu(report, results, monitor, mark, "recs-max")
    paths = tmp / "paths.txt"
    write_paths(paths, args.users, placement=args.placement)
    step_fixed_rate(args, port, token, paths, report, results, monitor)
    record_rss(report, results, server.pid, "after read load")
    step_ingest(args, port, token, report, results, monitor)
    record_rss(report, results, server.pid, "after ingest")
    step_freshness(args, port, token, report, results)
    shutdown = stop_process(server)
    running.remove(server)
    report.add("shutdown", "graceful stop (SIGINT, final snapshot)", shutdown, "s", f"exit code {server.returncode}")
    results["startup"]["shutdown_s"] = shutdown
    if not args.no_restart:
        server, warm = start_server(data, port, env, log, args.startup_timeout, monitor)
        running.append(server)
        report.add("startup", "warm restart to /readyz 200 (snapshot)", warm, "s")
        record_rss(report, results, server.pid, "after warm restart")
        results["startup"]["warm_s"] = warm
        stop_process(server)
        running.remove(server)
    results["server_log_tail"] = tail(log, 30)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    token = "tm-bench-" + secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    env.update(TASTEMAKER_NO_PROGRESS="1", TASTEMAKER_ADMIN_KEY=token)
    report, results = Report(), {"started_utc": stamp, "args": vars(args), "hardware": hardware_info(),
                                 "source": source_fingerprint()}
    tmp = Path(tempfile.mkdtemp(prefix="tastemaker-bench-", dir=args.tmp_dir))
    running: list[subprocess.Popen] = []
    status = 1
    print(f"tastemaker core benchmark {stamp}: {results['hardware']['cpu_model']}, {results['hardware']['cpu_count']} cores, "
          f"load {results['hardware']['loadavg'][0]:.2f}; source {results['source']}; temp dir {tmp}", flush=True)
    with CpuMonitor() as monitor:
        try:
            run_steps(args, env, token, tmp, report, results, monitor, running)
            status = 0
        except Exception as exc:  # keep the partial figures: they are the evidence
            results["error"] = f"{type(exc).__name__}: {exc}"
            print(f"benchmark failed: {results['error']}", file=sys.stderr, flush=True)
        finally:
            for proc in running:
                stop_process(proc, grace_s=30)
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    results["finished_utc"] = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    results["loadavg_end"] = list(os.getloadavg())
    results["table"] = report.rows
    out = Path(args.results_dir) / f"core-{stamp}.json"
    dump_json(results, out)
    print("\n" + report.table())
    print(f"\nresults: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
