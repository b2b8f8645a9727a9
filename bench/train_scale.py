"""Training time against the catalogue: the default ``tastemaker train`` beside a raw implicit ALS fit.

For each shape (``S``: 600 users / 15k items / 150k events, where fixed costs dominate;
``L``: 50k users / 100k items / 1M events; or ``--shape USERSxITEMSxEVENTS``):

1. ``tastemaker generate`` writes the generator's shop data (seed ``--seed``), and
   ``tastemaker import`` loads items, users and events into a fresh data dir;
2. the ceiling, in this process: raw ``implicit`` ALS (64 factors, 15 iterations, one thread,
   BLAS pinned to one thread) on the same user-item matrix the train job builds
   (``build_interactions`` over the same events), timed around ``fit`` only;
3. the default ``tastemaker train`` (the hybrid, its evaluation on a 75/25 split, the
   placements' learned blends, registration) as a child process, its wall time and peak RSS
   (``getrusage(RUSAGE_CHILDREN)``), and the ndcg@10 it reports for its 75/25 evaluation.

Targets (issue 13): train / ALS <= 20 at S and <= 5 at L; peak RSS <= 4 GiB at both.
The ALS ceiling is measured in the same run, so the ratio holds on a slower or busier machine.

    .venv/bin/python bench/train_scale.py [--shapes S L] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import dump_json, hardware_info, tastemaker_cmd  # noqa: E402

SHAPES = {"S": (600, 15_000, 150_000), "L": (50_000, 100_000, 1_000_000)}
TARGETS = {"S": 20.0, "L": 5.0}
RSS_TARGET_GIB = 4.0


def parse_shape(text: str) -> tuple[str, tuple[int, int, int]]:
    if text in SHAPES:
        return text, SHAPES[text]
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"shape {text!r}: S, L or USERSxITEMSxEVENTS")
    users, items, events = (int(p) for p in parts)
    return text, (users, items, events)


def run(cmd: list[str], data_dir: Path | None = None) -> str:
    """Run a tastemaker command; its stdout (exits on failure with its stderr)."""
    full = tastemaker_cmd() + cmd + (["--data-dir", str(data_dir)] if data_dir else [])
    proc = subprocess.run(full, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def raw_als_seconds(events_path: Path) -> tuple[float, int, int, int]:
    """Raw implicit ALS (64 factors, 15 iterations, 1 thread) on the train job's matrix."""
    from implicit.cpu.als import AlternatingLeastSquares

    from tastemaker.datasets.interactions import build_interactions

    data = build_interactions(pq.read_table(events_path))
    X = data.matrix.tocsr().astype(np.float32)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=64, iterations=15, num_threads=1, random_state=0)
        start = time.perf_counter()
        model.fit(X, show_progress=False)
        seconds = time.perf_counter() - start
    return seconds, X.shape[0], X.shape[1], int(X.nnz)


def measure(name: str, shape: tuple[int, int, int], seed: int) -> dict:
    users, items, events = shape
    with tempfile.TemporaryDirectory(prefix="train-scale-") as tmp:
        gen, data_dir = Path(tmp) / "gen", Path(tmp) / "data"
        run(["generate", "--users", str(users), "--items", str(items), "--events", str(events),
             "--seed", str(seed), "--out", str(gen)])
        for kind in ("items", "users", "events"):
            run(["import", "-q", kind, str(gen / f"{kind}.parquet")], data_dir)
        als_s, n_users, n_items, nnz = raw_als_seconds(gen / "events.parquet")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        out = run(["train", "-q"], data_dir)
        train_s = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = re.search(r"ndcg@10=([0-9.]+|nan)", out)
    peak_gib = peak_kib / 2**20
    return {"shape": name, "users": n_users, "items": n_items, "cells": nnz, "events": events,
            "raw_als_s": round(als_s, 3), "train_s": round(train_s, 2), "ratio": round(train_s / als_s, 2),
            "target_ratio": TARGETS.get(name), "peak_rss_gib": round(peak_gib, 3),
            # the children's peak so far: the train job's unless an earlier child (import) was larger
            "peak_is_train": peak_kib > before, "ndcg@10": float(found.group(1)) if found else None,
            "result": out.strip()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", type=parse_shape, default=[parse_shape("S"), parse_shape("L")])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rows, failed = [], False
    for name, shape in args.shapes:
        row = measure(name, shape, args.seed)
        rows.append(row)
        target = row["target_ratio"]
        ok = (target is None or row["ratio"] <= target) and row["peak_rss_gib"] <= RSS_TARGET_GIB
        failed |= not ok
        print(f"{name}: {row['users']:,} users x {row['items']:,} items, {row['cells']:,} cells | raw ALS "
              f"{row['raw_als_s']:.2f}s | train {row['train_s']:.1f}s = {row['ratio']:.1f}x"
              f"{f' (target <= {target:g}x)' if target else ''} | peak RSS {row['peak_rss_gib']:.2f} GiB | "
              f"ndcg@10 {row['ndcg@10']} | {'ok' if ok else 'MISSED'}", flush=True)
    if args.json:
        dump_json({"hardware": hardware_info(), "rows": rows}, args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
