"""Served list quality, measured as an external client would: over HTTP only.

Starts ``tastemaker serve`` on a fresh temporary data dir (with TASTEMAKER_ADMIN_KEY set),
then, talking to it only through HTTP (httpx):

1. builds the data set: ``ml100k`` (read in place with ``tastemaker.datasets.load_ml100k``;
   items with titles and genres, every rating with its stars and original time) or
   ``synthetic`` (``tastemaker.datasets.generate``: the generator's shop, sessions, funnels
   and trends; ``--users/--items/--events``);
2. holds out a quarter of the (user, item) cells as ``tastemaker evaluate`` does for the same
   ``--seed`` (``--protocol random``: per user at random; ``temporal``: the latest quarter
   after one time cut; ``visit``: what each user touched in their last visit after its
   opening event), and posts the items and every event of the other cells, in order, in
   batches of 10,000;
3. ``POST /v1/models/train`` with ``{}`` (a 202 job, polled until its version serves);
4. ``GET /v1/recommendations?user_id=U&n=10`` for every test user, on ``home`` (the learned
   blend), on ``home-unlearned`` (a copy of home's built-in weights written in a placement
   document, so nothing learned applies: "unlearned") and on ``model-alone`` (the trained
   model as the only source); nDCG@10 (binary relevance, ideal DCG over min(|held|, 10))
   and P@10 of each.

The library is used only to build and split the data (the very functions ``evaluate`` uses);
the server is never started in this process. Exits
non-zero on any HTTP error; every request and the whole run are bounded.

    .venv/bin/python bench/served_quality.py [--dataset ml100k|synthetic] [--protocol random|temporal|visit]
        [--seed 0] [--port 8301] [--timeout-s 1500]
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchlib import hardware_info, served, train_over_http
from tastemaker.datasets import generate, load_ml100k
from tastemaker.datasets.interactions import build_interactions
from tastemaker.training.served_evaluation import held_out_split
from tastemaker.training.served_validation import held_out_items

ADMIN_KEY = "bench-served-quality-admin-key-01234"
BATCH = 10_000
#: home's built-in sources and weights (serving/placements.py), written in a document
UNLEARNED = {"covisitation": {"weight": 1.0, "n": 200}, "category_affinity": {"weight": 0.35, "n": 60},
             "user_model": {"weight": 0.3, "n": 100}, "trending": {"weight": 0.15, "n": 100},
             "context_popular": {"weight": 0.2, "n": 100}}
PLACEMENTS = {"home": None, "home-unlearned": {"sources": UNLEARNED},
              "model-alone": {"sources": {"user_model": {"weight": 1.0, "n": 100}}}}


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code >= 300:
        fail(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")
    return resp


def dataset(args):
    if args.dataset == "ml100k":
        return load_ml100k()
    return generate(args.users, args.items, args.events, seed=args.data_seed)


def split(ds, protocol: str, seed: int) -> tuple[list[dict], dict[str, frozenset[str]]]:
    """The split ``tastemaker evaluate`` serves (``training.served_evaluation``): the cells as
    the train job weighs them, split by ``random_split(seed)`` or ``temporal_split``; every
    event of a held-out cell is left out of what is posted."""
    data = build_interactions(ds.events)
    columns = {name: ds.events.column(name).to_pylist() for name in ("user_id", "item_id", "timestamp")}
    _, test = held_out_split(data, columns, protocol, 0.25, seed)
    held = held_out_items(data, test)
    train = [{k: v for k, v in e.items() if v is not None} for e in ds.events.to_pylist()
             if e.get("item_id") not in held.get(e["user_id"], ())]
    return train, held


def ndcg_p_at_10(recs: list[str], held: set[str]) -> tuple[float, float]:
    dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(recs[:10]) if i in held)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(held), 10)))
    return dcg / idcg, sum(i in held for i in recs[:10]) / 10.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["ml100k", "synthetic"], default="ml100k")
    ap.add_argument("--protocol", choices=["random", "temporal", "visit"], default="random")
    ap.add_argument("--seed", type=int, default=0, help="the split's seed (random protocol)")
    ap.add_argument("--users", type=int, default=3_000, help="synthetic: users")
    ap.add_argument("--items", type=int, default=2_000, help="synthetic: items")
    ap.add_argument("--events", type=int, default=150_000, help="synthetic: events")
    ap.add_argument("--data-seed", type=int, default=0, help="synthetic: the generator's seed")
    ap.add_argument("--port", type=int, default=8301)
    ap.add_argument("--timeout-s", type=float, default=1500.0, help="bound on the whole run")
    ap.add_argument("--tastemaker", default=str(Path(sys.executable).parent / "tastemaker"),
                    help="the CLI to start (default: next to this python)")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: fail(f"whole run exceeded {args.timeout_s:.0f}s"))
    signal.alarm(int(args.timeout_s))

    t0 = time.perf_counter()
    ds = dataset(args)
    train, test = split(ds, args.protocol, args.seed)
    hw = hardware_info()
    print(f"{args.dataset} ({args.protocol} split, seed {args.seed}): {len(ds.items)} items, {ds.events.num_rows} "
          f"events -> {len(train)} posted, {sum(map(len, test.values()))} cells held out over {len(test)} users; "
          f"{hw.get('cpu_count')} CPUs ({hw.get('cpu_model')})")
    with tempfile.TemporaryDirectory(prefix="served-quality-") as tmp:
        env = dict(os.environ, TASTEMAKER_ADMIN_KEY=ADMIN_KEY)
        with served(Path(tmp) / "data", args.port, env, cmd=[args.tastemaker]) as proc:
            return run(args, proc, ds, train, test, t0)


def wait_ready(c: httpx.Client, proc: subprocess.Popen) -> float:
    t = time.perf_counter()
    while True:
        if proc.poll() is not None:
            fail(f"server exited with code {proc.returncode} before it was ready")
        try:
            if c.get("/readyz", timeout=2.0).status_code == 200:
                return time.perf_counter() - t
        except httpx.HTTPError:
            pass
        if time.perf_counter() - t > 120:
            fail("server not ready after 120s")
        time.sleep(0.25)


def run(args, proc, ds, train, test, t0) -> int:
    base = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(60.0)) as c:
        ready_s = wait_ready(c, proc)
        t = time.perf_counter()
        check(c.post("/v1/items", json=ds.items), "POST /v1/items")
        for k in range(0, len(train), BATCH):
            check(c.post("/v1/events", json=train[k:k + BATCH], timeout=300.0), f"POST /v1/events [{k}]")
        ingest_s = time.perf_counter() - t
        for name, body in PLACEMENTS.items():
            if body is not None:
                check(c.put(f"/v1/placements/{name}", json=body), f"PUT /v1/placements/{name}")

        t = time.perf_counter()
        try:
            job = train_over_http(c, {}, timeout_s=1200.0)
        except RuntimeError as exc:
            fail(str(exc))
        if job["status"] != "succeeded":
            fail(f"train job {job['id']} {job['status']}: {job.get('error')}")
        train_s = time.perf_counter() - t
        version = job["result"]["version"]

        t = time.perf_counter()
        figures = {}
        for name in PLACEMENTS:
            ndcg, prec, short = [], [], 0
            for u in sorted(test):
                body = check(c.get("/v1/recommendations", params={"user_id": u, "n": 10, "placement": name}),
                             f"GET /v1/recommendations user {u} on {name}").json()
                recs = [r["id"] for r in body["items"]]
                short += len(recs) < 10
                n, p = ndcg_p_at_10(recs, test[u])
                ndcg.append(n)
                prec.append(p)
            figures[name] = (float(np.mean(ndcg)), float(np.mean(prec)), short)
        recs_s = time.perf_counter() - t

    m = version.get("metrics") or {}
    print(f"trained: version {version.get('version')} ({version.get('family')}, status {version.get('status')}), "
          f"model alone offline ndcg@10={m.get('ndcg@10')} served (validation) ndcg@10={m.get('served_ndcg@10')}")
    home = (m.get("blends") or {}).get("home")
    if home:
        print("learned home blend: " + " ".join(f"{s}={w:g}" for s, w in home["weights"].items())
              + f" (validation {home['start_ndcg']:.4f} -> {home['ndcg']:.4f} on {home['users']} users)")
    for name, (ndcg, prec, short) in figures.items():
        print(f"{name:<15} served nDCG@10 = {ndcg:.4f}   P@10 = {prec:.4f}   ({len(test)} test users, "
              f"{short} lists shorter than 10)")
    print(f"wall: ready {ready_s:.1f}s, ingest {ingest_s:.1f}s, train {train_s:.1f}s, "
          f"recommendations {recs_s:.1f}s ({1000 * recs_s / (len(PLACEMENTS) * len(test)):.1f} ms/request), "
          f"total {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
