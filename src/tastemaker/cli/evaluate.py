"""``tastemaker evaluate``: model families under the split protocols (a table, JSON and an
HTML report), the served figure per placement (the train job on 75%, each placement's list
for the held-out users), then, for the data dir, each placement's list quality as served now.

The evaluation itself lives in :mod:`tastemaker.evaluation`; this module reads the options,
shows progress and prints. The parser is registered with the train commands (cli/train.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tastemaker.cli.base import quiet, settings


def cmd_evaluate(args: argparse.Namespace) -> int:
    if getattr(args, "churn", False) or args.dataset == "synthetic":
        if not getattr(args, "churn", False):
            print("--dataset synthetic is for --churn only", file=sys.stderr)
            return 2
        from tastemaker.cli.evaluate_churn import churn_command

        return churn_command(args)  # churn models on a temporal split (AUC, Brier, calibration)
    code = 0
    if not args.placements_only:
        code = offline_command(args)
    if code == 0 and not args.placements_only and not getattr(args, "no_served", False):
        code = served_command(args)  # what GET /v1/recommendations would serve, per placement
    if code == 0 and (args.dataset == "data-dir" or args.placements_only):
        code = placements_command(args)  # per-placement coverage, diversity, exposure, popularity bias
    return code


def offline_command(args: argparse.Namespace) -> int:
    """Every family (or ``--families``) under each protocol and seed; the report in ``--out``."""
    from tastemaker.cli.progress import bar
    from tastemaker.evaluation.offline import (
        PROTOCOLS,
        evaluate_protocols,
        load_event_log,
        load_movielens,
    )
    from tastemaker.evaluation.report import ML100K_ANCHORS, write_report
    from tastemaker.evaluation.report_context import evaluation_context
    from tastemaker.models.families import FAMILIES

    names = args.families.split(",") if args.families else sorted(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        print(f"unknown families {unknown}; known: {sorted(FAMILIES)}", file=sys.stderr)
        return 2
    movielens = args.dataset == "movielens"
    data, items = load_movielens() if movielens else load_event_log(settings(args))
    seeds = [int(s) for s in args.seeds.split(",")]
    protocols = PROTOCOLS if args.protocol == "all" else (args.protocol,)
    progress = None

    def advance(done: int, total: int, message: str) -> None:
        nonlocal progress
        if progress is None:  # the total is known once the data set is loaded
            progress = bar(total, "evaluate", unit="runs", quiet=quiet(args), scale=False)
        if done:
            progress.update(1)
            progress.set_postfix_str(message, refresh=True)

    try:
        rows = evaluate_protocols(names, data, items, protocols, seeds, progress=advance)
    finally:
        if progress is not None:
            progress.close()
    name = "MovieLens 100k (binary relevance)" if movielens else f"event log of {args.data_dir or 'the data dir'}"
    paths = write_report(Path(args.out), rows, anchors=ML100K_ANCHORS if movielens else None,
                         context=evaluation_context(data, name, protocols, seeds))
    print(f"report: {paths['html']} and {paths['json']}")
    return 0


def served_command(args: argparse.Namespace) -> int:
    """Served nDCG@10 per placement (:mod:`tastemaker.training.served_evaluation`): on the data
    dir's log and placements, or on MovieLens 100k loaded into a scratch deployment (items with
    titles and genres, every rating with its stars and time). ``served.json`` in ``--out``."""
    import dataclasses
    import tempfile

    from tastemaker.serving.placement_registry import PlacementRegistry
    from tastemaker.storage.factory import open_stores, placement_document
    from tastemaker.training.served_evaluation import evaluate_served, format_served

    config = settings(args)
    say = (lambda message: None) if quiet(args) else (lambda message: print(f"  {message}", file=sys.stderr))
    print("served figure: the train job on a 75% part, each placement's list for the held-out users", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="tastemaker-evaluate-") as scratch:
        if args.dataset == "movielens":
            from tastemaker.datasets import load_ml100k
            from tastemaker.ingest.dataset_loader import load_dataset

            config = dataclasses.replace(config, data_dir=Path(scratch), durable=False)
            stores = open_stores(config)
            load_dataset(stores, load_ml100k())
        else:
            stores = open_stores(config)
        try:
            placements = PlacementRegistry(*placement_document(config, stores.artifacts))
            seeds = [int(seed) for seed in args.seeds.split(",")]
            protocol = args.served_protocol
            seeds = seeds if protocol == "random" else seeds[:1]  # the other splits have no seed to vary
            reports = [evaluate_served(stores, placements=placements, require_catalog=config.require_catalog,
                                       seed=seed, protocol=protocol, progress=say,
                                       consent_required=config.consent_required) for seed in seeds]
        except ValueError as exc:
            print(f"served figure: {exc}", file=sys.stderr)
            return 1
        finally:
            stores.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "served.json"
    path.write_text(json.dumps(dict(zip(map(str, seeds), reports)), indent=2, default=str))
    print(format_served(reports, seeds))
    print(f"served figures: {path}", file=sys.stderr)
    return 0


def placements_command(args: argparse.Namespace) -> int:
    """The placement part (data dir only): a table on stdout and ``placements.json`` in ``--out``."""
    from tastemaker.engine import Engine
    from tastemaker.evaluation.placements import evaluate_placements, format_table

    engine = Engine(settings(args))
    try:
        metrics = evaluate_placements(engine, users=getattr(args, "placement_users", 500))
    finally:
        engine.close(snapshot=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "placements.json"
    path.write_text(json.dumps(metrics, indent=2))
    print(format_table(metrics))
    print(f"placement list metrics: {path}", file=sys.stderr)
    return 0
