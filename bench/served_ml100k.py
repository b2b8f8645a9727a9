"""Served ML-100k quality, measured as an external client would: over HTTP only.

Starts ``tastemaker serve`` on a fresh temporary data dir (with TASTEMAKER_ADMIN_KEY set),
then, talking to it only through HTTP (httpx):

1. posts the 1,682 ML-100k items (title, genres as categories);
2. splits each user's ratings 75/25 at random as ``tastemaker evaluate`` does (its served
   figure uses the same split for the same ``--seed``, 0 by default: the two should agree);
3. posts every training rating as a ``rating`` event (star value, original timestamp),
   in batches of 10,000;
4. ``POST /v1/models/train`` with ``{}`` (answers 202 with a train job), then polls
   ``GET /v1/models/train/jobs/{id}`` until it succeeded and its version serves
   (``benchlib.train_over_http``);
5. ``GET /v1/recommendations?user_id=U&n=10`` (default placement) for every test user, and
   scores nDCG@10 (binary relevance = the user's held-out items, ideal DCG over
   min(|held-out|, 10)) and P@10 on what came back.

ML-100k is read in place with ``tastemaker.datasets.load_ml100k`` and split with the library's
own functions; the server is never imported. Exits non-zero on any HTTP error; every request
and the whole run are bounded.

    .venv/bin/python bench/served_ml100k.py [--port 8301] [--timeout-s 1500] [--seed 0]
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
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

from benchlib import train_over_http
from tastemaker.datasets import load_ml100k
from tastemaker.datasets.interactions import build_interactions
from tastemaker.evaluation.splits import random_split

ADMIN_KEY = "served-ml100k-admin"
BATCH = 10_000


def fail(msg: str) -> None:
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code >= 400:
        fail(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")
    return resp


def split(events, seed: int = 0) -> tuple[list[dict], dict[str, set[str]]]:
    """The split ``tastemaker evaluate`` serves (``training.served_evaluation``): the ratings'
    (user, item) cells as the train job weighs them, ``evaluation.splits.random_split`` with
    ``seed`` (per user, floor(0.75 n) kept); the held-out cells' ratings are not posted."""
    data = build_interactions(events)
    _, test = random_split(data, 0.25, seed)
    held: dict[str, set[str]] = defaultdict(set)
    for row in np.flatnonzero(np.diff(test.indptr)):
        held[data.user_ids[row]] = {data.item_ids[c] for c in test.indices[test.indptr[row]:test.indptr[row + 1]]}
    train = []
    for u, i, v, t in zip(events.column("user_id").to_pylist(), events.column("item_id").to_pylist(),
                          events.column("value").to_pylist(), events.column("timestamp").to_pylist()):
        if i not in held.get(u, ()):
            train.append({"id": f"r-{u}-{i}", "type": "rating", "user_id": u, "item_id": i, "value": v, "timestamp": t})
    return train, dict(held)


def ndcg_p_at_10(recs: list[str], held: set[str]) -> tuple[float, float]:
    dcg = sum(1.0 / math.log2(r + 2) for r, i in enumerate(recs[:10]) if i in held)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(held), 10)))
    return dcg / idcg, sum(i in held for i in recs[:10]) / 10.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8301)
    ap.add_argument("--timeout-s", type=float, default=1500.0, help="bound on the whole run")
    ap.add_argument("--seed", type=int, default=0, help="the split's seed")
    ap.add_argument("--tastemaker", default=str(Path(sys.executable).parent / "tastemaker"),
                    help="the CLI to start (default: next to this python)")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: fail(f"whole run exceeded {args.timeout_s:.0f}s"))
    signal.alarm(int(args.timeout_s))

    t0 = time.perf_counter()
    ds = load_ml100k()
    train, test = split(ds.events, args.seed)
    print(f"ML-100k: {len(ds.items)} items, {ds.events.num_rows} ratings -> {len(train)} train, "
          f"{sum(map(len, test.values()))} held out over {len(test)} users")

    with tempfile.TemporaryDirectory(prefix="served-ml100k-") as tmp:
        env = dict(os.environ, TASTEMAKER_ADMIN_KEY=ADMIN_KEY)
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen([args.tastemaker, "serve", "--data-dir", str(Path(tmp) / "data"),
                                 "--port", str(args.port), "--log-level", "warning"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            return run(args, proc, ds, train, test, t0)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()
            if proc.returncode not in (0, -2, 130):
                print((Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)


def run(args, proc, ds, train, test, t0) -> int:
    base = f"http://127.0.0.1:{args.port}"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(60.0)) as c:
        t = time.perf_counter()
        while True:
            if proc.poll() is not None:
                fail(f"server exited with code {proc.returncode} before it was ready")
            try:
                if c.get("/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t > 120:
                fail("server not ready after 120s")
            time.sleep(0.25)
        ready_s = time.perf_counter() - t

        t = time.perf_counter()
        items = [{"id": it["id"], "title": it["title"], "categories": it["categories"]} for it in ds.items]
        check(c.post("/v1/items", json=items), "POST /v1/items")
        for k in range(0, len(train), BATCH):
            check(c.post("/v1/events", json=train[k:k + BATCH], timeout=300.0), f"POST /v1/events [{k}]")
        ingest_s = time.perf_counter() - t

        t = time.perf_counter()
        try:
            job = train_over_http(c, {}, timeout_s=1200.0)
        except RuntimeError as exc:
            fail(str(exc))
        if job["status"] != "succeeded":
            fail(f"train job {job['id']} {job['status']}: {job.get('error')}")
        trained = job["result"]
        train_s = time.perf_counter() - t
        serving = check(c.get("/v1/models"), "GET /v1/models").json().get("serving")

        t = time.perf_counter()
        seen: dict[str, set[str]] = defaultdict(set)
        for e in train:
            seen[e["user_id"]].add(e["item_id"])
        ndcg, prec, short, rerec = [], [], 0, 0
        for u in sorted(test):
            body = check(c.get("/v1/recommendations", params={"user_id": u, "n": 10}),
                         f"GET /v1/recommendations user {u}").json()
            recs = [r["id"] for r in body["items"]]
            short += len(recs) < 10
            rerec += sum(i in seen[u] for i in recs)  # items the user rated in training
            n, p = ndcg_p_at_10(recs, test[u])
            ndcg.append(n)
            prec.append(p)
        recs_s = time.perf_counter() - t

    v = trained.get("version", trained)
    v = v if isinstance(v, dict) else trained
    m = v.get("metrics") or {}
    print(f"trained: version {v.get('version')} ({v.get('family')}, status {v.get('status')}), "
          f"train-time eval ndcg@10={m.get('ndcg@10')} precision@10={m.get('precision@10')} "
          f"served (validation) ndcg@10={m.get('served_ndcg@10')}")
    home = (m.get("blends") or {}).get("home")
    if home:
        print("learned home blend: " + " ".join(f"{s}={w:g}" for s, w in home["weights"].items())
              + f" (validation {home['start_ndcg']:.4f} -> {home['ndcg']:.4f} on {home['users']} users)")
    print(f"model version served: {serving}")
    print(f"served nDCG@10 = {np.mean(ndcg):.4f}   P@10 = {np.mean(prec):.4f}   "
          f"({len(ndcg)} test users, {short} lists shorter than 10, "
          f"{rerec} recommended items already rated in training)")
    print(f"wall: ready {ready_s:.1f}s, ingest {ingest_s:.1f}s, train {train_s:.1f}s, "
          f"recommendations {recs_s:.1f}s ({1000 * recs_s / len(ndcg):.1f} ms/user), "
          f"total {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
