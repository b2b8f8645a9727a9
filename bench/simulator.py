"""Experiments end to end against a real server: a simulated population with known truth.

Starts ``tastemaker serve`` on a fresh temporary data dir (TASTEMAKER_ADMIN_KEY set) and runs
:class:`tastemaker.experiments.simulator.Simulator` through HTTP only (httpx), once per
scenario, each with its own experiment on its own placement-less id:

* ``ab``: ``control`` x1.0, ``treatment`` x``--lift`` (true click-rate multiplier);
* ``aa``: both x1.0 (no true effect).

Each scenario prints, per variant, the true CTR (share of served lists with a click, exact
from the known per-item probabilities of the lists actually served), the CTR the server
measured (``GET /v1/experiments/{id}/results``), their z-score under the binomial spread, and
the analysis' verdict; exit status 1 when a measured CTR is off by more than 4 sigma or the
verdict misses the real lift / finds one in the A/A. Writes
``bench/results/simulator-<stamp>.json``.

    .venv/bin/python bench/simulator.py [--users 2000] [--lists 8] [--pre-lists 3] [--lift 1.15]
        [--base-rate 0.03] [--p-cart 0.3] [--p-purchase 0.5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from benchlib import free_port, hardware_info, served, wait_ready

from tastemaker.experiments.simulator import SimulationConfig, Simulator

ADMIN_KEY = "bench-simulator-admin-key-0123456789"
RESULTS = Path(__file__).resolve().parent / "results"


def scenario(client: httpx.Client, config: SimulationConfig, name: str) -> dict:
    report = Simulator(client, config, {"Authorization": f"Bearer {ADMIN_KEY}"}).run()
    checks = report.ctr_checks()
    verdict = report.results.get("verdict")
    print(f"\n{name}: {config.users} users x {config.lists} lists ({config.pre_lists} before the start), "
          f"{report.requests} recommendation requests, {report.events} outcome events, {report.seconds:.1f} s")
    print(f"  {'variant':<10} {'multiplier':>10} {'users':>6} {'lists':>6} {'true CTR':>9} {'measured':>9} {'z':>6}")
    for variant, c in checks.items():
        print(f"  {variant:<10} {config.multipliers[variant]:>10.2f} {c['users']:>6} {c['lists']:>6} "
              f"{c['true_ctr']:>9.4f} {c['measured_ctr']:>9.4f} {c['z']:>6.2f}")
    analysis = report.results.get("analysis") or {}
    print(f"  verdict: {verdict} ({analysis.get('reason', report.results.get('analysis_error'))})")
    for row in analysis.get("variants", ()):  # CUPED with the pre-period behaviour as covariate
        cuped = {m: e["cuped"]["variance_reduction"] for m, e in row["metrics"].items() if e.get("cuped")}
        print(f"  CUPED variance reduction ({row['variant']} vs control): "
              + ", ".join(f"{m} {v:.1%}" for m, v in cuped.items()))
    print(f"  results computed in {report.results['seconds']:.2f} s (GET /v1/experiments/{{id}}/results)")
    return report.to_json()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--items", type=int, default=500)
    p.add_argument("--lists", type=int, default=8, help="lists per user during the experiment")
    p.add_argument("--pre-lists", type=int, default=3, help="lists per user before it starts")
    p.add_argument("--lift", type=float, default=1.15, help="the treatment's true click-rate multiplier")
    p.add_argument("--base-rate", type=float, default=0.03, help="mean per-item click probability at x1.0")
    p.add_argument("--p-cart", type=float, default=0.3, help="P(add to cart | click)")
    p.add_argument("--p-purchase", type=float, default=0.5, help="P(purchase | add to cart)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout-s", type=float, default=1800.0)
    args = p.parse_args(argv)
    base = SimulationConfig(users=args.users, items=args.items, history_events=10 * args.users, lists=args.lists,
                            pre_lists=args.pre_lists, seed=args.seed, base_rate=args.base_rate, p_cart=args.p_cart,
                            p_purchase=args.p_purchase)
    hw = hardware_info()
    print(f"simulator bench: {hw.get('cpu_count')} CPUs ({hw.get('cpu_model')}), seed {args.seed}")
    out: dict = {"args": vars(args), "hardware": hw, "scenarios": {}}
    ok = True
    with tempfile.TemporaryDirectory(prefix="simulator-") as tmp:
        port = free_port()
        no_limits = ",".join(f"{scope}=off" for scope in ("read", "ingest", "admin", "public"))
        env = dict(os.environ, TASTEMAKER_ADMIN_KEY=ADMIN_KEY, TASTEMAKER_RATE_LIMITS=no_limits)
        with served(Path(tmp) / "data", port, env) as proc:
            wait_ready(proc, f"http://127.0.0.1:{port}/readyz", timeout_s=120)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=args.timeout_s) as client:
                ab = replace(base, experiment_id="sim-ab", multipliers={"control": 1.0, "treatment": args.lift})
                aa = replace(base, experiment_id="sim-aa", multipliers={"control": 1.0, "treatment": 1.0},
                             seed=args.seed + 1, history_events=0)
                for name, config in (("ab", ab), ("aa", aa)):
                    doc = out["scenarios"][name] = scenario(client, config, name)
                    ok &= all(c["ok"] for c in doc["ctr"].values())
                    shipped = doc["verdict"] == "ship" and doc["results"]["winner"] == "treatment"
                    ok &= shipped if name == "ab" else doc["verdict"] == "no_difference_yet"
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"simulator-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\n{'OK' if ok else 'FAILED'}; written {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
