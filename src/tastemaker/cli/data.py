"""``tastemaker import`` and ``tastemaker generate``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tastemaker.cli.base import add_data_dir, record_audit, add_quiet, quiet, settings


def cmd_import(args: argparse.Namespace) -> int:
    from tastemaker.cli.progress import bar
    from tastemaker.ingest.importer import (
        count_rows,
        detect_format,
        import_documents,
        import_events,
    )
    from tastemaker.privacy.pseudonyms import Pseudonyms
    from tastemaker.privacy.tombstones import Tombstones, load_key
    from tastemaker.schema.errors import ValidationFailed
    from tastemaker.schema.registry import EventSchemaRegistry
    from tastemaker.storage.factory import open_stores

    config = settings(args)
    if args.kind == "movielens":
        from tastemaker.ingest.dataset_loader import load_into

        started = time.perf_counter()
        counts = load_into(config, "movielens")
        print(f"imported MovieLens 100k: {counts} in {time.perf_counter() - started:.1f}s")
        return 0
    if args.file is None:
        print(f"tastemaker import {args.kind}: FILE is required", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.exists():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    try:
        fmt = detect_format(path, args.format)
    except ValueError as exc:
        print(f"import refused: {exc}", file=sys.stderr)
        return 1
    # user ids as their pseudonyms, as the API stores them (privacy.pseudonyms)
    pseudonyms = Pseudonyms.open(config.data_dir) if config.pseudonymize else None
    with open_stores(config) as stores:
        try:
            started = time.perf_counter()
            # the total first (Parquet metadata, else a count of lines), so the bar shows how far along it is
            with bar(count_rows(path, fmt), f"import {args.kind}", quiet=quiet(args)) as progress:
                if args.kind == "events":
                    registry = EventSchemaRegistry(stores.schemas.load_all(), rating_scale=config.rating_scale)
                    tombstones = Tombstones(stores.erased, load_key(config.data_dir)) if stores.erased else None
                    erased = tombstones.erased if tombstones else None
                    if pseudonyms is not None and erased is not None:
                        erased = pseudonyms.erased_filter(erased)  # the file holds raw ids
                    inserted, dupes = import_events(stores, registry, path, fmt, progress=progress.update,
                                                    erased=erased, pseudonymize=pseudonyms)
                    summary = f"{inserted} events imported, {dupes} duplicates skipped"
                    rows = inserted + dupes
                else:
                    rows = import_documents(stores, args.kind, path, fmt, progress=progress.update, pseudonymize=pseudonyms)
                    summary = f"{rows} {args.kind} upserted"
            elapsed = time.perf_counter() - started
            # an operator's bulk write, beside the API: who loaded which file, how much
            record_audit(stores, "data.import", args.kind, {"file": path.name, "format": fmt, "rows": rows, "summary": summary})
            print(f"{summary} in {elapsed:.2f}s ({rows / max(elapsed, 1e-9):,.0f} rows/s)")
        except ValidationFailed as exc:
            print(f"import refused, nothing was written: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"import refused: {exc}", file=sys.stderr)
            return 1
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


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser(
        "import", help="import events, items or users (CSV, JSON Lines, Parquet), or MovieLens 100k",
        formatter_class=formatter,
        description="One transaction per file: a bad row refuses the whole file, naming the row and field.\n"
                    "CSV lists are '|'-joined, CSV objects are JSON text. Events without an id get a stable\n"
                    "one from the file name and row, so importing a file twice skips its duplicates.")
    p.add_argument("kind", choices=["events", "items", "users", "movielens"], help="what the file holds")
    p.add_argument("file", nargs="?", help="the file to import (not for movielens)")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"],
                   help="file format (default: from the file name: .csv/.tsv, .jsonl/.ndjson/.json, .parquet)")
    add_data_dir(p)
    add_quiet(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("generate", help="write a synthetic data set (items, users, events)", formatter_class=formatter,
                       description="Power-law popularity, latent tastes and sessions; the same seed writes the same files.")
    p.add_argument("--users", type=int, default=50_000, help="number of users")
    p.add_argument("--items", type=int, default=100_000, help="number of items")
    p.add_argument("--events", type=int, default=2_000_000, help="number of events")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="parquet", help="file format")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write items, users and events to")
    p.set_defaults(func=cmd_generate)
