"""``tastemaker evaluate --churn``: churn models on a temporal split (AUC, Brier, calibration).

``--dataset synthetic`` generates shop data with a known dropout process (``--churn-share``
of users leave for good, :func:`tastemaker.datasets.synthetic.churn_times`), ``movielens``
reads ML-100k's ratings as activity, ``data-dir`` the event log. The cutoff is
``--horizon-days`` before the last event; the evaluation is
:func:`tastemaker.evaluation.churn.evaluate_churn`. Prints a table and writes ``churn.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DAY_S = 86_400.0


def load_events(args: argparse.Namespace) -> tuple[Any, dict[str, float] | None, str]:
    """(events table, known dropout times or None, a name for the report)."""
    import pyarrow as pa

    if args.dataset == "synthetic":
        from tastemaker.datasets.synthetic import churn_times, generate

        n_users, days, seed, share = args.churn_users, args.churn_days, args.churn_seed, args.churn_share
        ds = generate(n_users, max(n_users // 5, 50), n_users * 40, seed=seed, days=days, churn=share)
        truth = {f"u{i}": t for i, t in enumerate(churn_times(n_users, seed, share, days=days).tolist())}
        return ds.events, truth, f"synthetic ({n_users} users, {days:g} days, {share:.0%} drop out, seed {seed})"
    if args.dataset == "movielens":
        from tastemaker.datasets.movielens import load_ml100k

        return load_ml100k().events, None, "MovieLens 100k ratings as activity"
    from tastemaker.cli.base import settings
    from tastemaker.datasets.snapshot import snapshot_events
    from tastemaker.storage.factory import open_stores

    with open_stores(settings(args)) as stores:
        columns = snapshot_events(stores.events).columns()
    return pa.table({k: columns[k] for k in ("user_id", "type", "value", "timestamp")}), None, "the data dir's event log"


def churn_command(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    from tastemaker.evaluation.churn import evaluate_churn

    events, truth, name = load_events(args)
    horizon = args.horizon_days * DAY_S
    end = float(pc.max(events.column("timestamp")).as_py())
    result = {"dataset": name, **evaluate_churn(events, end - horizon, horizon, truth, seed=args.churn_seed)}
    print(f"churn on {name}: {result['users']} users active before the cutoff, "
          f"{result['churned']:.1%} silent in the next {args.horizon_days:g} days")
    print(f"{'model':<10} {'AUC':>6} {'Brier':>6} {'mean p':>7}")
    for model in ("bgnbd", "lightgbm", "recency"):
        if model in result:
            r = result[model]
            brier = f"{r['brier']:6.4f}" if "brier" in r else "     -"
            mean = f"{r['mean_predicted']:7.4f}" if "mean_predicted" in r else "      -"
            print(f"{model:<10} {r['auc']:6.4f} {brier} {mean}")
    if "truth" in result:
        print(f"known truth: {result['truth']['dropped_out']:.1%} dropped out by the horizon's end; "
              f"BG/NBD AUC against it {result['truth']['bgnbd_auc_vs_dropout']:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "churn.json").write_text(json.dumps(result, indent=2))
    print(f"report: {out / 'churn.json'}")
    return 0


def add_churn_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--churn", action="store_true",
                   help="evaluate churn models instead (BG/NBD, LightGBM, recency) on a temporal split of "
                        "--dataset (movielens, data-dir or synthetic)")
    p.add_argument("--horizon-days", type=float, default=30.0, help="churn: silent for this long after the cutoff")
    p.add_argument("--churn-users", type=int, default=5000, help="churn, synthetic: users")
    p.add_argument("--churn-days", type=float, default=120.0, help="churn, synthetic: days of activity")
    p.add_argument("--churn-share", type=float, default=0.3, help="churn, synthetic: share of users who drop out")
    p.add_argument("--churn-seed", type=int, default=0, help="churn: data and model seed")
