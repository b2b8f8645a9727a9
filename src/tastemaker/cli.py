"""The ``tastemaker`` command: serve, demo, import, generate, keys."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tastemaker.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings.data_dir = Path(args.data_dir)
    return settings


def _progress(total: int | None, desc: str, unit: str = "rows"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, disable=os.environ.get("TASTEMAKER_NO_PROGRESS") == "1")


def check_placements(path: Path) -> str | None:
    """None when the placement file is valid (or absent), else the errors, one per line."""
    from tastemaker.schema.errors import ValidationFailed
    from tastemaker.serving.placement_config import load_placements

    if not path.exists():
        return None
    try:
        load_placements(path.read_text(), str(path))
    except ValidationFailed as exc:
        return "\n".join(f"  {e.field or '/'}: {e.reason}" for e in exc.errors)
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    if getattr(args, "placements", None):
        settings.placements_file = Path(args.placements)
        if not settings.placements_file.exists():
            print(f"no such placement file: {settings.placements_file}", file=sys.stderr)
            return 2
    errors = check_placements(settings.placements_path)
    if errors:
        print(f"refusing to start: invalid placement file {settings.placements_path}:\n{errors}", file=sys.stderr)
        return 1
    # the workers read their settings from the environment
    os.environ["TASTEMAKER_DATA_DIR"] = str(settings.data_dir)
    if settings.placements_file is not None:
        os.environ["TASTEMAKER_PLACEMENTS"] = str(settings.placements_file.resolve())
    uvicorn.run(
        "tastemaker.api.asgi:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
        loop="uvloop", http="httptools", access_log=False, log_level=args.log_level, backlog=4096,
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from tastemaker.ingest.importer import detect_format, import_documents, import_events
    from tastemaker.schema.errors import ValidationFailed
    from tastemaker.schema.registry import EventSchemaRegistry
    from tastemaker.storage.factory import open_stores

    settings = _settings(args)
    if args.kind == "movielens":
        from tastemaker.ingest.dataset_loader import load_into

        started = time.perf_counter()
        counts = load_into(settings, "movielens")
        print(f"imported MovieLens 100k: {counts} in {time.perf_counter() - started:.1f}s")
        return 0
    if args.file is None:
        print(f"tastemaker import {args.kind}: FILE is required", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.exists():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    stores = open_stores(settings)
    try:
        fmt = detect_format(path, args.format)
        started = time.perf_counter()
        with _progress(None, f"import {args.kind}") as bar:
            if args.kind == "events":
                registry = EventSchemaRegistry(stores.schemas.load_all())
                inserted, dupes = import_events(stores, registry, path, fmt, progress=bar.update)
                summary = f"{inserted} events imported, {dupes} duplicates skipped"
                rows = inserted + dupes
            else:
                rows = import_documents(stores, args.kind, path, fmt, progress=bar.update)
                summary = f"{rows} {args.kind} upserted"
        elapsed = time.perf_counter() - started
        print(f"{summary} in {elapsed:.2f}s ({rows / max(elapsed, 1e-9):,.0f} rows/s)")
    except ValidationFailed as exc:
        print(f"import refused, nothing was written: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"import refused: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from tastemaker.datasets import generate

    started = time.perf_counter()
    ds = generate(args.users, args.items, args.events, seed=args.seed)
    paths = ds.write(Path(args.out), args.format)
    print(f"generated {args.events} events, {args.items} items, {args.users} users in {time.perf_counter() - started:.1f}s")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from tastemaker.api.keys import create_key
    from tastemaker.storage.factory import open_stores

    stores = open_stores(_settings(args))
    try:
        if args.action == "create":
            try:
                record, token = create_key(stores.keys, args.name, set(args.scope or []))
            except ValueError as exc:
                print(exc, file=sys.stderr)
                return 2
            print(f"key {record.key_id} ({', '.join(sorted(record.scopes))}) created; the token is shown only once:")
            print(token)
        elif args.action == "list":
            for r in stores.keys.list():
                print(f"{r.key_id}\t{r.name}\t{','.join(sorted(r.scopes))}\t{'revoked' if r.revoked else 'active'}")
        else:
            if not stores.keys.revoke(args.key_id):
                print(f"no active key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
    finally:
        stores.close()
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.job import train

    settings = _settings(args)
    stores = open_stores(settings)
    try:
        params = json.loads(args.params) if args.params else {}
        result = train(stores, settings.models_dir, args.family, params, promote=args.promote,
                       progress=lambda message: print(message, file=sys.stderr, flush=True))
    except ValueError as exc:
        print(f"train refused: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    v = result.version
    print(f"v{v.version} {v.family} {'serving' if result.promoted else 'candidate'} "
          f"ndcg@10={v.metrics.get('ndcg@10', float('nan')):.4f} in {result.seconds:.1f}s")
    return 0


def cmd_train_ranker(args: argparse.Namespace) -> int:
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.ranker_job import train_rankers

    settings = _settings(args)
    stores = open_stores(settings)
    try:
        reports = train_rankers(stores, settings.rankers_dir, args.placement, window_s=args.window,
                                min_lists=args.min_lists, rounds=args.rounds,
                                progress=lambda message: print(message, file=sys.stderr, flush=True))
    finally:
        stores.close()
    if not reports:
        print("no impressions logged yet: configure a placement with ranker: ltr (or log_impressions: true)")
        return 1
    for name, r in reports.items():
        ndcg = "  ".join(f"{k}={v:.4f}" for k, v in r.items() if k.startswith("ndcg"))
        verdict = f"serving {r['path']}" if r.get("path") else f"keeping the blend ({r.get('reason', 'it did not win')})"
        print(f"{name}: {r.get('lists', 0)} labelled lists  {ndcg}  -> {verdict}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tastemaker.training.offline import evaluate_command

    code = 0 if args.placements_only else evaluate_command(args)
    if code == 0 and (args.dataset == "data-dir" or args.placements_only):
        from tastemaker.training.placement_eval import placements_command

        code = placements_command(args)  # per-placement coverage, diversity, exposure, popularity bias
    return code


def cmd_models(args: argparse.Namespace) -> int:
    from tastemaker.storage.factory import open_stores
    from tastemaker.training.registry import ModelRegistry

    settings = _settings(args)
    stores = open_stores(settings)
    registry = ModelRegistry(stores.models, settings.models_dir)
    try:
        if args.action == "list":
            for v in registry.list():
                print(f"v{v.version}\t{v.family}\t{v.status}\tndcg@10={v.metrics.get('ndcg@10', float('nan')):.4f}"
                      f"\tevents {v.data_from_seq}..{v.data_to_seq}")
        elif args.action == "promote":
            print(f"serving v{registry.promote(args.version).version}")
        else:
            print(f"serving v{registry.rollback().version}")
    except (KeyError, LookupError) as exc:
        print(f"models {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        stores.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tastemaker.demo import run_demo

    return run_demo(Path(args.data_dir), args.dataset, args.host, args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tastemaker", description="Real-time personalization engine")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory (default $TASTEMAKER_DATA_DIR or ./data)")

    p = sub.add_parser("serve", help="run the HTTP server")
    data_dir(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info")
    p.add_argument("--placements", help="placement YAML (default $TASTEMAKER_PLACEMENTS or DATA_DIR/placements.yaml)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="load a demo data set into a fresh data dir and serve it")
    p.add_argument("--data-dir", default="./tastemaker-demo")
    p.add_argument("--dataset", choices=["movielens", "synthetic"], default="movielens")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", help="import events, items or users (CSV, JSON Lines, Parquet), or MovieLens 100k")
    p.add_argument("kind", choices=["events", "items", "users", "movielens"])
    p.add_argument("file", nargs="?")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"])
    data_dir(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("generate", help="write a synthetic data set (items, users, events)")
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="parquet")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train", help="train a model on the event log, evaluate it, register it")
    p.add_argument("--family", default="hybrid")
    p.add_argument("--params", help="JSON object of hyperparameters")
    p.add_argument("--promote", choices=["if_better", "always", "never"], default="if_better")
    data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-ranker", help="train the learned ranker of placements on their logged impressions")
    p.add_argument("--placement", help="only this placement (default: every placement with impressions)")
    p.add_argument("--window", type=float, default=86_400.0, help="attribution window in seconds (default 1 day)")
    p.add_argument("--min-lists", type=int, default=200, help="labelled lists needed before training")
    p.add_argument("--rounds", type=int, default=50, help="boosting rounds")
    data_dir(p)
    p.set_defaults(func=cmd_train_ranker)

    p = sub.add_parser("evaluate", help="offline evaluation of model families (table, JSON, HTML report)")
    p.add_argument("--dataset", choices=["movielens", "data-dir"], default="movielens")
    p.add_argument("--protocol", choices=["random", "temporal", "leave_last_out", "all"], default="all")
    p.add_argument("--families", help="comma-separated family names (default: all)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default="reports")
    p.add_argument("--placements-only", action="store_true",
                   help="only the per-placement list metrics of the data dir (no model evaluation)")
    p.add_argument("--placement-users", type=int, default=500, help="users sampled per placement")
    data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", help="list, promote or roll back model versions")
    models = p.add_subparsers(dest="action", required=True)
    m = models.add_parser("list")
    data_dir(m)
    m = models.add_parser("promote")
    m.add_argument("version", type=int)
    data_dir(m)
    m = models.add_parser("rollback")
    data_dir(m)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("keys", help="manage API keys")
    keys = p.add_subparsers(dest="action", required=True)
    k = keys.add_parser("create")
    k.add_argument("--scope", action="append", choices=["ingest", "read", "admin"], required=True)
    k.add_argument("--name", default="cli")
    data_dir(k)
    k = keys.add_parser("list")
    data_dir(k)
    k = keys.add_parser("revoke")
    k.add_argument("key_id")
    data_dir(k)
    p.set_defaults(func=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
