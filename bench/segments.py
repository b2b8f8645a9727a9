"""Segments and churn (issue 18): membership on the very next request, churn AUC, fold cost.

Three parts, each figure a ratio to a ceiling measured in the same run:

1. **Membership over HTTP** (a real ``tastemaker serve``): a rule segment ``vip``
   (``events.purchase >= 2``) and a running experiment whose population is ``vip``. Per trial,
   a new user purchases once, then GET ``/v1/users/{id}`` must not show ``vip``; purchases
   again, then the very next GET ``/v1/users/{id}`` must show it and the very next
   GET ``/v1/recommendations`` must carry the experiment. Ceiling: every trial (100%).
   The latency of a placement with a ``user.segments`` rule is compared with the same
   placement without it (ceiling: the rule-free placement).
2. **Churn AUC** on a temporal split (:mod:`tastemaker.evaluation.churn`): the synthetic
   generator with its known dropout process, and ML-100k activity. Ceiling on synthetic: an
   oracle that knows who dropped out; on ML-100k: AUC 1.
3. **Fold cost**: ``OnlineState.apply`` over synthetic events with the customer ledger
   (features.customers) against the same fold with the ledger's ``observe`` a no-op.

    .venv/bin/python bench/segments.py --trials 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import free_port, hardware_info, percentiles, served, wait_ready  # noqa: E402

ADMIN_KEY = "bench-segments-admin-key-0123456789"
RESULTS = Path(__file__).resolve().parent / "results"
DAY_S = 86_400.0
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def _ok(r: httpx.Response) -> dict:
    if r.status_code >= 300:
        raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")
    return r.json() if r.content else {}


def membership(client: httpx.Client, trials: int) -> dict:
    items = [{"id": f"i{k}", "title": f"Item {k}", "categories": [f"c{k % 5}"], "price": 10.0 + k} for k in range(200)]
    _ok(client.post("/v1/items", json=items))
    _ok(client.post("/v1/segments", json={"name": "vip", "expression": "events.purchase >= 2"}))
    _ok(client.post("/v1/experiments", json={
        "id": "vip-exp", "placements": ["home"], "status": "running", "population": {"segments": ["vip"]},
        "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}))
    rule = {"where": 'not ("vip" in user.segments) or price >= 50'}
    _ok(client.put("/v1/placements/plain", json={"sources": {"popular": 1.0}}))
    _ok(client.put("/v1/placements/vip-rule", json={"sources": {"popular": 1.0}, "rules": [rule]}))
    before_ok = after_user = after_rec = 0
    for t in range(trials):
        user = f"bench-{t}"
        for n in (1, 2):
            _ok(client.post("/v1/events", json={"id": f"{user}-{n}", "type": "purchase", "user_id": user,
                                                "item_id": f"i{(t * 2 + n) % 200}", "value": 25.0,
                                                "context": {"user_agent": UA}}))
            segments = _ok(client.get(f"/v1/users/{user}"))["activity"]["segments"]
            if n == 1:
                before_ok += "vip" not in segments
            else:
                after_user += "vip" in segments
                body = _ok(client.get("/v1/recommendations", params={"user_id": user, "placement": "home"}))
                after_rec += any(x["id"] == "vip-exp" for x in body.get("experiments", []))
    lat: dict[str, list[float]] = {"plain": [], "vip-rule": []}
    for i in range(400):  # alternating, so both see the same machine load
        for placement in (("plain", "vip-rule") if i % 2 else ("vip-rule", "plain")):
            t0 = time.perf_counter()
            _ok(client.get("/v1/recommendations", params={"user_id": f"bench-{i % trials}", "placement": placement}))
            lat[placement].append((time.perf_counter() - t0) * 1000.0)
    p_plain, p_rule = percentiles(lat["plain"]), percentiles(lat["vip-rule"])
    return {"trials": trials, "not_before": before_ok / trials, "visible_next_users": after_user / trials,
            "visible_next_recommendations": after_rec / trials,
            "latency_ms": {"plain": p_plain, "vip_rule": p_rule},
            "rule_p50_ratio": round(p_rule["p50"] / p_plain["p50"], 3)}


def churn(users: int) -> dict:
    from sklearn.metrics import roc_auc_score

    from tastemaker.datasets.movielens import load_ml100k
    from tastemaker.datasets.synthetic import churn_times, generate
    from tastemaker.evaluation.churn import cut, evaluate_churn

    start, horizon = 1_700_000_000.0, 30 * DAY_S
    ds = generate(users, max(users // 5, 50), users * 40, seed=0, days=120, churn=0.3)
    leave = churn_times(users, 0, 0.3, days=120)
    truth = {f"u{i}": float(t) for i, t in enumerate(leave)}
    cutoff = start + 90 * DAY_S
    synthetic = evaluate_churn(ds.events, cutoff, horizon, truth)
    test = cut(ds.events, cutoff, horizon)
    oracle = np.array([truth[u] < cutoff + horizon for u in test.users], float)  # knows who left
    oracle_auc = float(roc_auc_score(test.churned, oracle + 1e-6 * (cutoff - test.last) / DAY_S))
    ml = load_ml100k().events
    end = float(ml.column("timestamp").to_numpy().max())
    movielens = evaluate_churn(ml, end - 60 * DAY_S, 60 * DAY_S)
    for r in (synthetic, movielens):
        for m in ("bgnbd", "lightgbm"):
            r.get(m, {}).pop("calibration", None)
    return {"synthetic": {**synthetic, "oracle_auc": round(oracle_auc, 4),
                          "bgnbd_to_oracle": round(synthetic["bgnbd"]["auc"] / oracle_auc, 4)},
            "movielens": movielens}


def fold_cost(events: int) -> dict:
    from tastemaker.datasets.synthetic import generate
    from tastemaker.features.state import OnlineState

    ds = generate(events // 40, 2000, events, seed=1)
    cols = ds.events.to_pydict()
    rows = list(zip(cols["type"], cols["user_id"], cols["session_id"], cols["item_id"], cols["value"], cols["timestamp"]))

    def run(ledger: bool) -> float:
        state = OnlineState()
        if not ledger:
            state.customers.observe = lambda *a: None  # the ceiling: the fold without the ledger
        t0 = time.perf_counter()
        for seq, (kind, user, session, item, value, ts) in enumerate(rows, 1):
            state.apply(seq, kind, user, session, [item] if item else [], value, ts)
        return time.perf_counter() - t0

    with_ledger, without = [], []
    for _ in range(5):  # alternating rounds: the best of each is the least disturbed by other load
        without.append(run(False))
        with_ledger.append(run(True))
    best_with, best_without = min(with_ledger), min(without)
    return {"events": events, "us_per_event_with": round(best_with / events * 1e6, 3),
            "us_per_event_without": round(best_without / events * 1e6, 3),
            "ratio": round(best_with / best_without, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--users", type=int, default=5000, help="synthetic churn: users")
    p.add_argument("--fold-events", type=int, default=200_000)
    args = p.parse_args(argv)
    hw = hardware_info()
    print(f"segments bench: {hw['cpu_count']} CPUs ({hw['cpu_model']}), load {hw['loadavg']}")
    out: dict = {"args": vars(args), "hardware": hw}
    with tempfile.TemporaryDirectory(prefix="segments-") as tmp:
        port = free_port()
        no_limits = ",".join(f"{scope}=off" for scope in ("read", "ingest", "admin", "public"))
        env = dict(os.environ, TASTEMAKER_ADMIN_KEY=ADMIN_KEY, TASTEMAKER_RATE_LIMITS=no_limits)
        with served(Path(tmp) / "data", port, env) as proc:
            wait_ready(proc, f"http://127.0.0.1:{port}/readyz", timeout_s=120)
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
                out["membership"] = m = membership(client, args.trials)
    print(f"membership: {m['trials']} trials; not in before the 2nd purchase {m['not_before']:.1%}, "
          f"visible on the next /v1/users {m['visible_next_users']:.1%}, next /v1/recommendations "
          f"(experiment population) {m['visible_next_recommendations']:.1%}")
    print(f"placement with a user.segments rule: p50 {m['latency_ms']['vip_rule']['p50']:.2f} ms vs "
          f"{m['latency_ms']['plain']['p50']:.2f} ms without (x{m['rule_p50_ratio']})")
    out["churn"] = c = churn(args.users)
    for name in ("synthetic", "movielens"):
        r = c[name]
        models = ", ".join(f"{k} {r[k]['auc']:.3f}" for k in ("bgnbd", "lightgbm", "recency") if k in r)
        print(f"churn AUC {name}: {models} ({r['users']} users, {r['churned']:.1%} churned)")
    print(f"synthetic oracle AUC {c['synthetic']['oracle_auc']:.3f}: BG/NBD at {c['synthetic']['bgnbd_to_oracle']:.1%}")
    out["fold"] = f = fold_cost(args.fold_events)
    print(f"fold: {f['us_per_event_with']} us/event with the ledger, {f['us_per_event_without']} without (x{f['ratio']})")
    ok = m["not_before"] == 1.0 and m["visible_next_users"] == 1.0 and m["visible_next_recommendations"] == 1.0
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"segments-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"{'OK' if ok else 'FAILED'}; written {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
