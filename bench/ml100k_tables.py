"""The tables of bench/models_ml100k.py: protocol names, published anchors, means over seeds."""

from __future__ import annotations

import numpy as np

from ml100k_data import TEMPORAL_TEST

K = 10
ANCHORS = [("BiVAE", 0.475), ("BPR (cornac)", 0.442), ("LightGCN", 0.420), ("NCF", 0.396), ("SAR", 0.382)]
PROTOCOL_NAMES = {"a": "random", "b": "temporal", "c": "leave_last_out"}


def seed_means(rs: list[dict]) -> dict[str, float]:
    """One family's metrics averaged over its seeds."""
    return {k: float(np.mean([r[k] for r in rs])) for k in ("ndcg", "recall", "precision", "hitrate", "fit_s")}


PROTOCOL_TITLES = {
    "a": "protocol (a): per-user random 75/25, binary relevance, seen removed",
    "b": f"protocol (b): global temporal cut, latest {TEMPORAL_TEST:.0%} of ratings in test, users with train "
         "and test ratings, seen removed",
    "c": "protocol (c): leave-last-out (each user's latest rating), seen removed",
}


def print_table(rows: dict, protocol: str = "a") -> None:
    print()
    print(f"ML-100k, {PROTOCOL_TITLES[protocol]}, k={K}, mean of {len(next(iter(rows.values())))} seed(s)")
    print(f"{'family':16s} {'NDCG@10':>8s} {'Recall@10':>10s} {'Prec@10':>8s} {'HR@10':>7s} {'fit s':>7s}")
    for name, rs in rows.items():
        mean = seed_means(rs)
        sd = float(np.std([r["ndcg"] for r in rs]))
        print(f"{name:16s} {mean['ndcg']:8.4f} {mean['recall']:10.4f} {mean['precision']:8.4f} "
              f"{mean['hitrate']:7.4f} {mean['fit_s']:7.2f}   (ndcg sd {sd:.4f})")
    if protocol != "a":
        return
    print("published anchors (same protocol):")
    for name, v in ANCHORS:
        print(f"  {name:14s} {v:8.3f}")


def report_rows(rows: dict, protocol: str) -> list[dict]:
    """Rows in the shape of ``evaluation.report`` (one per family, means over seeds)."""
    out = []
    for name, rs in rows.items():
        mean = seed_means(rs)
        out.append({"family": name, "protocol": PROTOCOL_NAMES[protocol], f"ndcg@{K}": mean["ndcg"],
                    f"precision@{K}": mean["precision"], f"recall@{K}": mean["recall"],
                    f"hit_rate@{K}": mean["hitrate"], "fit_s": mean["fit_s"], "seeds": len(rs)})
    return out
