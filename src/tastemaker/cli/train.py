"""``tastemaker train``, ``train-ranker``, ``evaluate`` and ``models``."""

from __future__ import annotations

import argparse
import json
import sys

from tastemaker.cli.base import (
    FAMILIES,
    add_data_dir,
    add_quiet,
    family_list,
    quiet,
    record_audit,
    settings,
)
from tastemaker.cli.evaluate import cmd_evaluate
from tastemaker.cli.evaluate_churn import add_churn_arguments

PROMOTE = ["if_better", "always", "never"]


def cmd_train(args: argparse.Namespace) -> int:
    # the family is checked by argparse (choices) before anything is opened or read
    try:
        params = json.loads(args.params) if args.params else {}
    except json.JSONDecodeError as exc:
        print(f"train refused: --params is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(params, dict):
        print("train refused: --params must be a JSON object such as '{\"factors\": 64}'", file=sys.stderr)
        return 2
    from tastemaker.cli.progress import StageBar
    from tastemaker.storage.factory import open_lease, open_stores
    from tastemaker.training.job import train
    from tastemaker.training.leases import TRAIN, LeaseHeld, LeaseLost, NodeLease, check_holder, node_name

    config = settings(args)
    # one node of the deployment trains at a time: a server's train job or another `train`
    lease = NodeLease(open_lease(config, TRAIN, f"tastemaker train ({node_name()})"), TRAIN)
    with open_stores(config) as stores:
        try:
            # stage lines and a bar over the stages, on stderr (stdout keeps the one result line)
            with lease.holding(), StageBar("train", quiet=quiet(args)) as progress:
                result = train(stores, args.family, params, promote=args.promote, progress=progress,
                               consent_required=config.consent_required,
                               before_publish=lambda: check_holder(config, TRAIN, lease.holder_id))
        except (ValueError, TypeError, LeaseHeld, LeaseLost) as exc:
            print(f"train refused: {exc}", file=sys.stderr)
            return 1
        finally:
            lease.close()
        v = result.version
        record_audit(stores, "models.train", str(v.version),
                     {"family": args.family, "params": params, "promote": args.promote, "version": v.version})
        if result.promoted:
            record_audit(stores, "models.promote", str(v.version), {"by": "train", "promote": args.promote})
    print(f"v{v.version} {v.family} {'serving' if result.promoted else 'candidate'} "
          f"ndcg@10={v.metrics.get('ndcg@10', float('nan')):.4f} in {result.seconds:.1f}s")
    return 0


def cmd_train_ranker(args: argparse.Namespace) -> int:
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.ranker_job import train_rankers

    config = settings(args)
    say = (lambda message: None) if quiet(args) else (lambda message: print(message, file=sys.stderr, flush=True))
    with open_stores(config) as stores:
        reports = train_rankers(stores, args.placement, window_s=args.window,
                                min_lists=args.min_lists, rounds=args.rounds, progress=say)
        for name, r in reports.items():
            if r.get("artifact"):  # a new ranker serves the placement: an admin change like a promotion
                record_audit(stores, "rankers.train", name, {"artifact": r["artifact"], "lists": r.get("lists", 0)})
    if not reports:
        print("no impressions logged yet: configure a placement with ranker: ltr (or log_impressions: true)")
        return 1
    for name, r in reports.items():
        ndcg = "  ".join(f"{k}={v:.4f}" for k, v in r.items() if k.startswith("ndcg"))
        verdict = f"serving {r['artifact']}" if r.get("artifact") else f"keeping the blend ({r.get('reason', 'it did not win')})"
        print(f"{name}: {r.get('lists', 0)} labelled lists  {ndcg}  -> {verdict}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.model_registry import ModelRegistry

    config = settings(args)
    with open_stores(config) as stores:
        registry = ModelRegistry(stores.models, stores.artifacts)
        try:
            if args.action == "list":
                for v in registry.list():
                    print(f"v{v.version}\t{v.family}\t{v.status}\tndcg@10={v.metrics.get('ndcg@10', float('nan')):.4f}"
                          f"\tevents {v.data_from_seq}..{v.data_to_seq}")
            elif args.action == "promote" and args.canary is not None:
                return _start_canary(config, stores, registry, args)
            elif args.action == "promote":
                previous = registry.serving()
                record = registry.promote(args.version)
                record_audit(stores, "models.promote", str(record.version), {"previous": previous.version if previous else None})
                _admin(config, stores).end_canaries_of(record.version, f"v{record.version} promoted", "cli", "cli")
                print(f"serving v{record.version}")
            else:
                previous = registry.serving()
                record = registry.rollback()
                record_audit(stores, "models.rollback", str(record.version), {"previous": previous.version if previous else None})
                print(f"serving v{record.version}")
        except (KeyError, LookupError) as exc:
            print(f"models {args.action}: {exc}", file=sys.stderr)
            return 1
    return 0


def _admin(config, stores):
    """The experiment admin of a data dir, for a command run beside the servers."""
    from tastemaker.serving.experiment_admin import ExperimentAdmin
    from tastemaker.serving.experiments import ExperimentRouter
    from tastemaker.serving.placement_registry import PlacementRegistry
    from tastemaker.storage.factory import placement_document

    placements = PlacementRegistry(*placement_document(config, stores.artifacts))
    return ExperimentAdmin(stores.experiments, ExperimentRouter(stores.experiments, lambda versions: {}), placements.get,
                           lambda v: stores.models.get(v) is not None, stores.audit)


def _start_canary(config, stores, registry, args: argparse.Namespace) -> int:
    """``models promote V --canary SHARE``: the servers serve V to SHARE of users and roll it
    back by themselves if it breaks its error or latency budget."""
    from tastemaker.schema.errors import ValidationFailed
    from tastemaker.serving.experiment_admin import InvalidTransition

    if stores.models.get(args.version) is None:
        raise KeyError(f"no version {args.version}")
    serving = registry.serving()
    try:
        _, canary = _admin(config, stores).start_canary(args.version, args.canary, serving.version if serving else None,
                                                        args.max_error_rate, args.latency_budget_ms)
    except (ValidationFailed, InvalidTransition) as exc:
        print(f"models promote --canary: {exc}", file=sys.stderr)
        return 1
    record_audit(stores, "models.canary", str(args.version), {"experiment": canary.id, "canary": args.canary})
    print(f"canary {canary.id}: v{args.version} serves {args.canary:.2%} of users beside "
          f"{'v' + str(serving.version) if serving else 'popularity'}; error budget {args.max_error_rate:g}, "
          f"p99 budget {args.latency_budget_ms:g} ms")
    return 0


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser(
        "train", help="train a model on the event log, evaluate it, register it", formatter_class=formatter,
        description="Stages: snapshot of the event log, interaction matrix, evaluation against the serving\n"
                    "version on the same 75/25 split, fit on everything, registration (and promotion).")
    p.add_argument("--family", default="hybrid", choices=FAMILIES, metavar="FAMILY",
                   help="model family, one of: %(choices)s")
    p.add_argument("--params", metavar="JSON", help="hyperparameters overriding the family's defaults, as a JSON object")
    p.add_argument("--promote", choices=PROMOTE, default="if_better",
                   help="serve the new version: if its ndcg@10 is at least the serving one's, always, or never")
    add_data_dir(p)
    add_quiet(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-ranker", help="train the learned ranker of placements on their logged impressions",
                       formatter_class=formatter)
    p.add_argument("--placement", help="only this placement (default: every placement with impressions)")
    p.add_argument("--window", type=float, default=86_400.0, metavar="SECONDS", help="attribution window in seconds")
    p.add_argument("--min-lists", type=int, default=200, help="labelled lists needed before training")
    p.add_argument("--rounds", type=int, default=50, help="boosting rounds")
    add_data_dir(p)
    add_quiet(p)
    p.set_defaults(func=cmd_train_ranker)

    p = sub.add_parser(
        "evaluate", help="offline evaluation of model families (table, JSON, HTML report)", formatter_class=formatter,
        description="Every family (or --families) under each protocol and seed; a report in --out. Then the\n"
                    "served figure: the train job on a 75%% part, each placement's list for the held-out users.")
    p.add_argument("--dataset", choices=["movielens", "data-dir", "synthetic"], default="movielens",
                   help="MovieLens 100k (binary relevance, the published protocol) or the data dir's event log "
                        "(synthetic: with --churn only)")
    add_churn_arguments(p)
    p.add_argument("--protocol", choices=["random", "temporal", "leave_last_out", "all"], default="all",
                   help="split: per-user random 75/25, global temporal, leave-last-out, or all three")
    p.add_argument("--families", type=family_list, metavar="A,B",
                   help="comma-separated family names (default: all registered families)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated split seeds; metrics are averaged over them")
    p.add_argument("--out", default="reports", metavar="DIR", help="where the HTML and JSON report go")
    p.add_argument("--placements-only", action="store_true",
                   help="only the per-placement list metrics of the data dir (no model evaluation)")
    p.add_argument("--placement-users", type=int, default=500, help="users sampled per placement")
    p.add_argument("--served-protocol", choices=["random", "temporal", "visit"], default="random",
                   help="the served figure's held-out cells: per-user random quarter, the latest quarter after "
                        "a time cut, or what each user touched in their last visit after its opening event")
    p.add_argument("--no-served", action="store_true",
                   help="skip the served figure per placement (the train job on 75%%, each placement's list "
                        "for the held-out users)")
    add_data_dir(p)
    add_quiet(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="list, promote or roll back model versions", formatter_class=formatter)
    models = p.add_subparsers(dest="action", metavar="ACTION")
    m = models.add_parser("list", help="every version: family, status, ndcg@10, events it was trained on",
                          formatter_class=formatter)
    add_data_dir(m)
    m = models.add_parser("promote", help="serve a version (servers swap it in within a second)", formatter_class=formatter)
    m.add_argument("version", type=int, help="the version number, as `models list` shows it")
    m.add_argument("--canary", type=float, metavar="SHARE",
                   help="start a canary instead: the version serves SHARE (0-1) of users beside the serving one, "
                        "rolled back by the servers if it breaks a budget")
    m.add_argument("--max-error-rate", type=float, default=0.01, help="the canary's error budget")
    m.add_argument("--latency-budget-ms", type=float, default=100.0, help="the canary's p99 latency budget (ms)")
    add_data_dir(m)
    m = models.add_parser("rollback", help="serve the previously serving version again", formatter_class=formatter)
    add_data_dir(m)
    p.set_defaults(func=cmd_models, group=p)
