"""``tastemaker evaluate``: every family under every protocol, as a table, JSON and HTML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

PROTOCOLS = ("random", "temporal", "leave_last_out")


def protocol_params(name: str, protocol: str) -> dict[str, Any]:
    """Parameters that make a family validate the way ``protocol`` tests: a family that
    carves its own validation split (``holdout_by``, the hybrid) carves it by the same rule.

    >>> protocol_params("hybrid", "leave_last_out"), protocol_params("ease", "temporal")
    ({'holdout_by': 'last'}, {})
    """
    from tastemaker.models.families import family_class
    from tastemaker.training.splits import DEFAULT_TEST_FRACTION

    if "holdout_by" not in family_class(name).param_names():
        return {}
    return {"random": {},
            "temporal": {"holdout_by": "time", "holdout": DEFAULT_TEST_FRACTION["temporal"]},
            "leave_last_out": {"holdout_by": "last"}}[protocol]


def _load(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]]]:
    """The interactions and aligned item records of the chosen data set."""
    from tastemaker.training.interactions import build_interactions

    if args.dataset == "movielens":
        from tastemaker.datasets import load_ml100k

        ds = load_ml100k()
        # The published ML-100k protocol: every rating is an interaction (binary relevance).
        data = build_interactions(ds.events, binary=True, rating_neutral=0.0)
        by_id = {item["id"]: item for item in ds.items}
        return data, [by_id.get(i, {"id": i}) for i in data.item_ids]
    import msgspec

    from tastemaker.config import Settings
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.snapshot import snapshot_events

    settings = Settings()
    if args.data_dir:
        settings.data_dir = Path(args.data_dir)
    stores = open_stores(settings)
    try:
        data = build_interactions(snapshot_events(stores.events).columns())
        items = []
        for item_id in data.item_ids:
            item = stores.items.get(item_id)
            items.append(msgspec.to_builtins(item) if item else {"id": item_id})
    finally:
        stores.close()
    return data, items


def evaluate_command(args: argparse.Namespace,
                     progress: Callable[[int, int, str], None] | None = None) -> int:
    """Evaluate, write the report; ``progress(done, total, message)`` once before the first
    run (``done`` 0) and after each fitted run (a family on one seed of one protocol)."""
    from tastemaker.models.families import FAMILIES, factory
    from tastemaker.training.evaluate import evaluate_families
    from tastemaker.training.metrics import category_features
    from tastemaker.training.report import ML100K_ANCHORS, write_report

    names = args.families.split(",") if args.families else sorted(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        print(f"unknown families {unknown}; known: {sorted(FAMILIES)}", file=sys.stderr)
        return 2
    data, items = _load(args)
    features = category_features(items, data.item_ids)
    seeds = [int(s) for s in args.seeds.split(",")]
    protocols = PROTOCOLS if args.protocol == "all" else (args.protocol,)
    rows = []
    total, done = len(protocols) * len(seeds) * len(names), 0

    def one_run(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, message)

    if progress is not None:
        progress(0, total, f"{len(names)} families x {len(seeds)} seeds x {len(protocols)} protocols")
    for protocol in protocols:
        for row in evaluate_families({n: factory(n, **protocol_params(n, protocol)) for n in names}, data, protocol=protocol, seeds=seeds,
                                     item_features=features, items=items, progress=one_run):
            rows.append({"protocol": protocol, **row})
    from tastemaker.training.report_context import evaluation_context

    name = "MovieLens 100k (binary relevance)" if args.dataset == "movielens" else f"event log of {args.data_dir or 'the data dir'}"
    paths = write_report(Path(args.out), rows, anchors=ML100K_ANCHORS if args.dataset == "movielens" else None,
                         context=evaluation_context(data, name, protocols, seeds))
    print(f"report: {paths['html']} and {paths['json']}")
    return 0
