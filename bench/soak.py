"""Issue 14's soak: a live-loaded server under an open-loop mixed workload for minutes.

    .venv/bin/python bench/soak.py                    # 10 minutes at 50% of the measured max
    .venv/bin/python bench/soak.py --minutes 2 --rate 800

Steps, all against one ``tastemaker serve`` subprocess (embedded SQLite, empty data dir):

1. load the uniform shape over HTTP (``--items``, ``--users``, ``--events``; stall_probe's
   ``load_uniform``: catalogue, then 10k-event batches from one client) and wait for the
   server's background child processes (snapshot writer) to end;
2. the hello-world ceiling and the recommendation max RPS with wrk (``run_core``'s
   ``step_hello`` and ``step_wrk_recs``); the soak rate is ``--rate-fraction`` (50%) of that
   max unless ``--rate`` is given;
3. calibration, ingest only: ``--calib-events`` new events in ``--calib-batch``-event POSTs
   (25; 4 clients, no reads; the same shape as the soak's posts), RSS and ``tastemaker_state_applied_seq`` read after each tenth: the state's bytes
   per applied event (the least-squares slope), measured apart from the soak;
4. the soak: ``bench/soak_gen.py`` in its own process (60% recommendations, 20% profile
   reads, 20% 5-event posts, open loop, latency from the scheduled send time), while this
   driver samples the server at every minute boundary: RSS, the state gauges and the
   stall histograms of ``/metrics``, and the CPU used by the server, by the bench and by
   everyone else (a shared machine);
5. after the soak (background work waited for), memory growth explained: RSS growth against
   calibration bytes per event x events applied; the residue is what state growth does not
   explain. Verdicts for the issue's targets, and ``bench/results/soak-<UTC stamp>.json``.

All traffic goes to 127.0.0.1; every subprocess and loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (  # noqa: E402
    BENCH_DIR, CpuMonitor, children_of, dump_json, free_port, hardware_info, python_exe, source_fingerprint,
    stop_process, tail,
)
from core_data import Report, record_cpu, record_rss, settle, start_server  # noqa: E402
from ingest_bench import run_ingest  # noqa: E402
from run_core import step_hello, step_wrk_recs  # noqa: E402
from soak_report import MIB, explain_memory, minute_rows, print_tables, sample, verdicts  # noqa: E402
from stall_probe import load_uniform  # noqa: E402
from uniform_shape import live_batches  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="soak length (max 60)")
    p.add_argument("--rate", type=float, default=None, help="req/s of the mix (default: --rate-fraction of the measured max)")
    p.add_argument("--rate-fraction", type=float, default=0.5)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--events", type=int, default=500_000, help="events POSTed before anything is measured")
    p.add_argument("--calib-events", type=int, default=100_000, help="events of the ingest-only calibration (0: skip)")
    p.add_argument("--calib-batch", type=int, default=25,
                   help="events per calibration POST (5-event POSTs from 4 clients run into the default ingest limit, 500/s per key)")
    p.add_argument("--calib-seconds", type=float, default=120.0, help="time bound of the calibration")
    p.add_argument("--connections", type=int, default=64, help="generator keep-alive connections")
    p.add_argument("--wrk-seconds", type=float, default=10.0)
    p.add_argument("--wrk-connections", type=int, default=32)
    p.add_argument("--settle-timeout", type=float, default=180.0, help="max wait for the server's child processes")
    p.add_argument("--residue-tolerance-mib", type=float, default=16.0,
                   help="|RSS growth - explained growth| at or under this passes")
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    args = p.parse_args(argv)
    if not 0 < args.minutes <= 60 or not 0 < args.rate_fraction <= 1.5 or args.wrk_seconds > 120:
        p.error("need 0 < --minutes <= 60, 0 < --rate-fraction <= 1.5, --wrk-seconds <= 120")
    args.placement = None  # what run_core's wrk step expects
    return args


def wait_children(pid: int, timeout: float) -> float:
    """Wait (bounded) until the server has no child processes (a forked snapshot writer)."""
    started = time.perf_counter()
    while children_of(pid) and time.perf_counter() - started < timeout:
        time.sleep(0.5)
    return time.perf_counter() - started


def calibrate(args, port: int, token: str, pid: int, stamp: str, chunks: int = 10) -> dict:
    """State bytes per applied event, ingest only: the slope of RSS over events applied,
    fitted over ``chunks`` readings (RSS grows in allocator steps: one difference is noisy)."""
    wait_children(pid, args.settle_timeout)
    bodies = live_batches(args.users, args.items)(max(chunks, args.calib_events // args.calib_batch), args.calib_batch,
                                                  f"calib-{stamp}")
    readings, accepted, errors, started = [sample(port, token, pid)], 0, 0, time.perf_counter()
    statuses: dict[str, int] = {}
    step = math.ceil(len(bodies) / chunks)
    for lo in range(0, len(bodies), step):
        left = args.calib_seconds - (time.perf_counter() - started)
        if left <= 0:
            break
        res = asyncio.run(run_ingest(port, token, bodies[lo:lo + step], 4, left))
        accepted, errors = accepted + res["events_accepted"], errors + res["errors"]
        for code, n in res["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
        readings.append(sample(port, token, pid))
    elapsed = time.perf_counter() - started
    del bodies
    time.sleep(5.0)  # background work the batches started (re-cuts) finishes before the last reading
    waited = wait_children(pid, args.settle_timeout)
    readings.append(sample(port, token, pid))
    seqs = np.array([r["gauges"]["state_applied_seq"] for r in readings], dtype=float)
    rss = np.array([r["rss_mib"] for r in readings]) * MIB
    slope, _ = np.polyfit(seqs, rss, 1) if len(readings) > 2 else (0.0, 0.0)
    before, after = readings[0], readings[-1]
    events = int(seqs[-1] - seqs[0])
    out = {"events_accepted": accepted, "events_applied": events, "errors": errors, "statuses": statuses,
           "batch": args.calib_batch, "events_per_s": accepted / elapsed,
           "rss_before_mib": before["rss_mib"], "rss_after_mib": after["rss_mib"],
           "rss_growth_mib": round((rss[-1] - rss[0]) / MIB, 1), "bytes_per_event_end_to_end": (rss[-1] - rss[0]) / max(events, 1),
           "bytes_per_event": float(slope), "readings": [[int(a), round(b / MIB, 1)] for a, b in zip(seqs, rss)],
           "covisitation_pairs_growth": after["gauges"]["covisitation_pairs"] - before["gauges"]["covisitation_pairs"],
           "waited_for_children_s": round(waited, 1)}
    print(f"calibration (ingest only, {args.calib_batch}-event POSTs, 4 clients): {events:,} events applied at "
          f"{out['events_per_s']:,.0f}/s, statuses {statuses}; RSS {before['rss_mib']:.1f} -> {after['rss_mib']:.1f} MiB: "
          f"{slope:.0f} bytes per event (fit over {len(readings)} readings; end to end "
          f"{out['bytes_per_event_end_to_end']:.0f}); covisitation pairs +{out['covisitation_pairs_growth']:,}", flush=True)
    return out


def run_soak(args, port: int, token: str, pid: int, rate: float, monitor: CpuMonitor, stamp: str) -> tuple[dict, list, list]:
    """The generator in its own process; a server sample at every minute boundary."""
    cmd = [python_exe(), str(BENCH_DIR / "soak_gen.py"), "--port", str(port), "--token", token, "--rate", f"{rate:.1f}",
           "--minutes", str(args.minutes), "--users", str(args.users), "--items", str(args.items),
           "--connections", str(args.connections), "--tag", f"soak-{stamp}"]
    samples = [sample(port, token, pid)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 900)  # building the requests is bounded too
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("START "):
            raise RuntimeError(f"soak generator did not start: {line!r}")
        start = float(line.split()[1])
        samples[0] = sample(port, token, pid)  # the state the clock starts from
        print(f"soak: {rate:,.0f} req/s for {args.minutes:g} min, started {time.strftime('%H:%M:%S')}", flush=True)
        cpu, mark = [], monitor.mark()
        for m in range(1, math.ceil(args.minutes) + 1):
            time.sleep(max(0.0, start + 60.0 * min(m, args.minutes) - time.time()))
            cpu.append(monitor.since(mark))
            mark = monitor.mark()
            s = sample(port, token, pid)
            samples.append(s)
            print(f"  minute {m}: RSS {s['rss_mib']:.1f} MiB, applied_seq {s['gauges']['state_applied_seq']:,}, "
                  f"users {s['gauges']['state_users']:,}, covisitation pairs {s['gauges']['covisitation_pairs']:,}; "
                  f"cores server {cpu[-1]['server_cores']:.2f} / bench {cpu[-1]['ours_cores']:.2f} / "
                  f"other {cpu[-1]['other_cores']:.2f}", flush=True)
        out, _ = proc.communicate(timeout=60 + 20)
    finally:
        if proc.poll() is None:
            stop_process(proc, grace_s=5)
    if proc.returncode != 0:
        raise RuntimeError(f"soak generator failed ({proc.returncode})")
    return json.loads(out.strip().splitlines()[-1]), samples, cpu


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    token = "tm-soak-" + secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    env.update(TASTEMAKER_NO_PROGRESS="1", TASTEMAKER_ADMIN_KEY=token)
    report = Report()
    results: dict = {"started_utc": stamp, "args": {k: v for k, v in vars(args).items()},
                     "hardware": hardware_info(), "source": source_fingerprint()}
    print(f"tastemaker soak {stamp}: {results['hardware']['cpu_model']}, {results['hardware']['cpu_count']} cores, "
          f"load {results['hardware']['loadavg'][0]:.2f}; source {results['source']}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="tastemaker-soak-", dir=args.tmp_dir))
    server, status = None, 1
    with CpuMonitor() as monitor:
        try:
            port, log = free_port(), tmp / "server.log"
            mark = monitor.mark()
            server, ready_s = start_server(tmp / "data", port, env, log, 300, monitor)
            load_uniform(port, token, args)
            record_rss(report, results, server.pid, "after loading over HTTP")
            settle(report, results, server.pid, args.settle_timeout)
            record_cpu(report, results, monitor, mark, "load")
            mark = monitor.mark()
            hello = step_hello(args, env, report, results)
            record_cpu(report, results, monitor, mark, "hello")
            mark = monitor.mark()
            max_rps = step_wrk_recs(args, port, token, server.pid, hello, report, results)
            record_cpu(report, results, monitor, mark, "recs-max")
            rate = args.rate or args.rate_fraction * max_rps
            results["soak_rate"] = {"rate": rate, "given": args.rate is not None, "fraction_of_max": rate / max_rps}
            report.add("soak", "rate", rate, "req/s", f"{rate / max_rps:.0%} of the max just measured")
            if rate * 0.2 > 500:  # the mix's POSTs against the default per-key ingest limit (config.py)
                print(f"warning: {rate * 0.2:,.0f} POSTs/s exceed the default ingest limit of 500/s per key: expect 429s",
                      flush=True)
            if args.calib_events:
                mark = monitor.mark()
                results["calibration"] = calibrate(args, port, token, server.pid, stamp)
                record_cpu(report, results, monitor, mark, "calibration")
            mark = monitor.mark()
            gen, samples, cpu = run_soak(args, port, token, server.pid, rate, monitor, stamp)
            record_cpu(report, results, monitor, mark, "soak")
            waited = wait_children(server.pid, args.settle_timeout)
            end = sample(port, token, server.pid)  # after the background work the soak left
            per_event = results.get("calibration", {}).get("bytes_per_event", 0.0)
            rows = minute_rows(gen, samples, cpu, per_event)
            memory = explain_memory(per_event, samples, end, rows)
            memory["waited_for_children_s"] = round(waited, 1)
            results.update(generator={k: v for k, v in gen.items() if k != "per_minute"}, minutes=rows, memory=memory,
                           samples=[{k: v for k, v in s.items() if k != "buckets"} for s in samples + [end]])
            print_tables(rows)
            o = gen["overall"]
            print(f"\noverall: {o['all']['count']:,} requests at {rate:,.0f}/s (achieved {o['achieved_rate']:,.0f}/s"
                  f"{', OVERLOADED' if o['overloaded'] else ''}), {o['all']['errors']} errors "
                  f"{o['all']['error_kinds']}, p50/p99/max {o['all']['p50']}/{o['all']['p99']}/{o['all']['max']} ms; "
                  f"{o['events_acked']:,} events acked; seconds with a request over 25/50 ms: "
                  f"{o['seconds_over_25ms']}/{o['seconds_over_50ms']} of {o['seconds']}; generator lag p99 "
                  f"{o['dispatch_lag_ms']['p99']} ms")
            print(f"memory: RSS {memory['rss_start_mib']:.1f} -> {memory['rss_end_mib']:.1f} MiB "
                  f"({memory['rss_growth_mib']:+.1f}); {memory['events_applied']:,} events applied x "
                  f"{memory['bytes_per_event']:.0f} B (calibration) = {memory['explained_mib']:+.1f} MiB explained; "
                  f"residue {memory['residue_mib']:+.1f} MiB ({memory['residue_mib_per_min']:+.2f} MiB/min; after minute 1: "
                  f"{memory['residue_after_minute_1_mib']:+.1f} MiB); the soak's own "
                  f"RSS/event slope {memory['soak_bytes_per_event_fit']} B; "
                  f"users {memory['users_growth']:+,}, covisitation pairs {memory['covisitation_pairs_growth']:+,}")
            results["verdicts"] = verdicts(rows, o, memory, args.residue_tolerance_mib)
            status = 0
        except Exception as exc:  # keep the partial figures: they are the evidence
            results["error"] = f"{type(exc).__name__}: {exc}"
            print(f"soak failed: {results['error']}", file=sys.stderr, flush=True)
        finally:
            if server is not None:
                results["shutdown_s"] = stop_process(server, grace_s=60)
                results["server_log_tail"] = tail(tmp / "server.log", 30)
            shutil.rmtree(tmp, ignore_errors=True)
    results["finished_utc"] = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    results["loadavg_end"] = list(os.getloadavg())
    results["table"] = report.rows
    out = Path(args.results_dir) / f"soak-{stamp}.json"
    dump_json(results, out)
    print(f"\nresults: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
