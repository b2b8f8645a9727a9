"""The core benchmark, end to end, run the way a user runs tastemaker, on one of two shapes.

``--shape generator`` (default): CLI ``generate`` -> CLI ``import`` -> [train, --train-family]
-> ``tastemaker serve`` (subprocess, cold start replays the log).
``--shape uniform`` (issue 14): a catalogue, uniform users, Zipf-like items, no sessions,
built here in numpy and loaded over HTTP (POST /v1/items, POST /v1/events in 10k batches,
one client) into a server started on an empty data dir (bench/uniform_shape.py).

Then, on both: hello-world ceiling (wrk) -> recommendation max RPS (wrk) -> open-loop latency
at 25% and 70% of that max (bench/core_latency.py) -> raw SQLite ceiling and durable ingest,
1 client x 10k and 4 clients x 1k (bench/core_ingest.py) -> the 70% open loop while 4 clients
ingest -> freshness -> stop -> warm restart (snapshot) -> the issue 14 targets table
(bench/core_targets.py).

    .venv/bin/python bench/run_core.py                      # generator shape, full sizes
    .venv/bin/python bench/run_core.py --shape uniform      # uniform shape, full sizes
    .venv/bin/python bench/run_core.py --shape uniform --items 20000 --users 5000 --events 50000 \
        --rate-seconds 5 --wrk-seconds 3 --ingest-seconds 5 --ingest-max-events 50000 --fresh-trials 20   # smoke

Prints a table and writes ``bench/results/core-<timestamp>.json`` (git-ignored). All traffic
goes to 127.0.0.1; every loop and subprocess is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BENCH_DIR, LOCALHOST, CpuMonitor, cpu_seconds, dump_json, free_port, hardware_info, python_exe,
    source_fingerprint, stop_process, tail, wait_ready,
)
from core_data import (  # noqa: E402
    Report, _verdict, record_cpu, record_rss, settle, start_server, step_generate, step_import, step_placement, step_train,
)
from core_ingest import parse_setups, step_ingest  # noqa: E402
from core_latency import step_mixed, step_open_loop, write_paths  # noqa: E402
from core_targets import issue14_targets, targets_table  # noqa: E402
from freshness import run_freshness  # noqa: E402
from ingest_bench import build_batches  # noqa: E402
from uniform_shape import live_batches, prepare_uniform  # noqa: E402


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


def step_wrk_recs(args, port: int, token: str, pid: int, hello_rps: float, report: Report, results: dict) -> float:
    """e. Recommendation max RPS over varying real users plus 5% unknown ones; returns it."""
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
    return res["rps"]


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


# -- driver ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tastemaker core benchmark (127.0.0.1 only)")
    csv_floats = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--shape", choices=["generator", "uniform"], default="generator",
                   help="generator: tastemaker generate + CLI import; uniform: issue 14's shape, loaded over HTTP")
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--events", type=int, default=None, help="default 2,000,000 (generator) or 500,000 (uniform)")
    p.add_argument("--formats", type=lambda s: s.split(","), default=["csv", "parquet"],
                   help="generator shape: data set formats to generate and import; the first one is served")
    p.add_argument("--load-batch", type=int, default=10_000, help="uniform shape: events per POST while loading")
    p.add_argument("--load-timeout", type=float, default=1800.0, help="uniform shape: max seconds to load the events")
    p.add_argument("--startup-timeout", type=float, default=300.0)
    p.add_argument("--wrk-seconds", type=float, default=10.0)
    p.add_argument("--wrk-connections", type=int, default=32)
    p.add_argument("--rate-fractions", type=csv_floats, default=[0.25, 0.70],
                   help="open-loop rates as fractions of the measured recommendation max RPS")
    p.add_argument("--rates", type=csv_floats, default=[], help="extra fixed open-loop rates, req/s")
    p.add_argument("--rate-seconds", type=float, default=20.0)
    p.add_argument("--connections", type=int, default=64, help="loadgen keep-alive connections")
    p.add_argument("--ingest-setups", type=parse_setups, default=parse_setups("1x10000,4x1000"),
                   help="durable ingest runs as CLIENTSxBATCH, comma-separated")
    p.add_argument("--ingest-seconds", type=float, default=15.0, help="per ingest setup, and for the SQLite ceiling")
    p.add_argument("--ingest-max-events", type=int, default=600_000, help="events prepared per ingest setup")
    p.add_argument("--mixed-fraction", type=float, default=0.70, help="open-loop rate (fraction of max) while ingesting; 0 = skip")
    p.add_argument("--mixed-clients", type=int, default=4)
    p.add_argument("--mixed-batch", type=int, default=1000)
    p.add_argument("--fresh-trials", type=int, default=200)
    p.add_argument("--no-restart", action="store_true", help="skip the warm-restart measurement")
    p.add_argument("--settle-timeout", type=float, default=180.0,
                   help="max seconds to wait after start-up for the server's child processes (background snapshot) to finish; 0 = do not wait")
    p.add_argument("--tmp-dir", default=None, help="where the temporary data set and data dir go")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--placement", default=None, choices=["bench-rules-mmr", "bench-full"],
                   help="generator shape: read requests name this staged placement (bench/placements_bench.py's "
                        "file is written into the data dir): the issue 4 latency target")
    p.add_argument("--train-family", default=None,
                   help="generator shape: train and promote this model family before serving (e.g. als): the read "
                        "path then serves the trained model, warmed for every user at startup")
    p.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    args = p.parse_args(argv)
    if args.events is None:
        args.events = 2_000_000 if args.shape == "generator" else 500_000
    # Bounds: every step is limited in time; reject sizes that would run for ages.
    if args.rate_seconds > 300 or args.wrk_seconds > 120 or args.ingest_seconds > 300 or args.fresh_trials > 10_000:
        p.error("keep --rate-seconds <= 300, --wrk-seconds <= 120, --ingest-seconds <= 300, --fresh-trials <= 10000")
    if args.shape == "uniform" and (args.placement or args.train_family):
        p.error("--placement and --train-family apply to --shape generator only")
    if not all(0 < f <= 1.5 for f in args.rate_fractions) or not 0 <= args.mixed_fraction <= 1.5:
        p.error("rate fractions must lie in (0, 1.5]")
    return args


def prepare_generator(args, env: dict[str, str], tmp: Path, report: Report, results: dict,
                      monitor: CpuMonitor, running: list[subprocess.Popen]) -> tuple[subprocess.Popen, int, Path, Path]:
    """Steps a-c of the generator shape: generate, CLI import, [train, placement], cold start."""
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
    return server, port, data, log


def run_steps(args, env: dict[str, str], token: str, tmp: Path, report: Report, results: dict,
              monitor: CpuMonitor, running: list[subprocess.Popen]) -> None:
    """Every step in order; servers still running if a step fails are left in ``running``."""
    if args.shape == "uniform":
        server, port, data, log = prepare_uniform(args, env, token, tmp, report, results, monitor, running)
        make_batches = live_batches(args.users, args.items)
    else:
        server, port, data, log = prepare_generator(args, env, tmp, report, results, monitor, running)
        make_batches = lambda n, size, tag: build_batches(n, size, args.users, args.items, tag=tag)  # noqa: E731
    mark = monitor.mark()
    hello_rps = step_hello(args, env, report, results)
    record_cpu(report, results, monitor, mark, "hello")
    mark = monitor.mark()
    max_rps = step_wrk_recs(args, port, token, server.pid, hello_rps, report, results)
    record_cpu(report, results, monitor, mark, "recs-max")
    paths = tmp / "paths.txt"
    write_paths(paths, args.users, placement=args.placement)
    step_open_loop(args, port, token, paths, max_rps, report, results, monitor)
    record_rss(report, results, server.pid, "after read load")
    step_ingest(args, port, token, tmp, make_batches, report, results, monitor)
    record_rss(report, results, server.pid, "after ingest")
    if args.mixed_fraction > 0:
        step_mixed(args, port, token, paths, max_rps, make_batches, report, results, monitor)
        record_rss(report, results, server.pid, "after reads + ingest")
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
    report, results = Report(), {"started_utc": stamp, "shape": args.shape, "args": vars(args),
                                 "hardware": hardware_info(), "source": source_fingerprint()}
    tmp = Path(tempfile.mkdtemp(prefix="tastemaker-bench-", dir=args.tmp_dir))
    running: list[subprocess.Popen] = []
    status = 1
    print(f"tastemaker core benchmark {stamp}, shape {args.shape}: {results['hardware']['cpu_model']}, "
          f"{results['hardware']['cpu_count']} cores, load {results['hardware']['loadavg'][0]:.2f}; "
          f"source {results['source']}; temp dir {tmp}", flush=True)
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
    results["targets_issue14"] = issue14_targets(results)
    out = Path(args.results_dir) / f"core-{stamp}.json"
    dump_json(results, out)
    print("\n" + report.table())
    print("\n" + targets_table(results["targets_issue14"], args.shape))
    print(f"\nresults: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
