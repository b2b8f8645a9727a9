"""``tastemaker serve`` and ``tastemaker demo``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tastemaker.cli.base import add_data_dir, add_quiet, quiet, settings
from tastemaker.config import Settings


def check_placements(config: Settings) -> tuple[str, str | None]:
    """The placement document's name, and None when it is valid (or absent), else its errors,
    one per line."""
    from tastemaker.schema.errors import ValidationFailed
    from tastemaker.serving.placement_config import load_placements
    from tastemaker.storage.factory import open_artifacts, placement_document

    artifacts, key = placement_document(config, open_artifacts(config))
    data = artifacts.get(key)
    name = str(config.placements_file) if config.placements_file is not None else key
    if data is None:
        return name, None
    try:
        load_placements(data.decode(), name)
    except ValidationFailed as exc:
        return name, "\n".join(f"  {e.field or '/'}: {e.reason}" for e in exc.errors)
    return name, None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    config = settings(args)
    if args.placements:
        config.placements_file = Path(args.placements)
        if not config.placements_file.exists():
            print(f"no such placement file: {config.placements_file}", file=sys.stderr)
            return 2
    name, errors = check_placements(config)
    if errors:
        print(f"refusing to start: invalid placement document {name}:\n{errors}", file=sys.stderr)
        return 1
    # the workers read their settings from the environment
    os.environ["TASTEMAKER_DATA_DIR"] = str(config.data_dir)
    if config.placements_file is not None:
        os.environ["TASTEMAKER_PLACEMENTS"] = str(config.placements_file.resolve())
    uvicorn.run(
        "tastemaker.api.asgi:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
        # httptools plus a deadline for request headers, which uvicorn lacks (api.slow_clients)
        loop="uvloop", http="tastemaker.api.slow_clients:HeaderDeadlineProtocol", access_log=False,
        log_level=args.log_level, backlog=4096,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tastemaker.cli.progress import StageLog
    from tastemaker.demo import run_demo

    return run_demo(Path(args.data_dir), args.dataset, args.host, args.port, fresh=args.fresh, quiet=quiet(args),
                    progress=StageLog("demo: train", quiet=quiet(args)))


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("serve", help="run the HTTP server", formatter_class=formatter,
                       description="Run the HTTP API on a data dir. Several processes (or --workers) may "
                                   "serve one data dir; they share the event log, keys and models.")
    add_data_dir(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--port", type=int, default=8000, help="TCP port")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"],
                   help="uvicorn log level")
    p.add_argument("--placements", metavar="FILE",
                   help="placement YAML (default: $TASTEMAKER_PLACEMENTS, else DATA_DIR/placements.yaml)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo", help="serve a demo data set (built on the first run, reused after)", formatter_class=formatter,
        description="The first run loads the data set into --data-dir, trains the default model and "
                    "creates an admin key; later runs reuse all of it (same key, same events, same "
                    "model) and only start the server. --fresh deletes that data dir and builds it again.")
    p.add_argument("--data-dir", default="./tastemaker-demo", metavar="DIR", help="the demo's own data directory")
    p.add_argument("--dataset", choices=["movielens", "synthetic"],
                   help="MovieLens 100k (from the recbole wheel) or a generated data set "
                        "(default: movielens for a new dir; a reused dir keeps its own)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    p.add_argument("--port", type=int, default=8000, help="TCP port")
    p.add_argument("--fresh", "--reset", action="store_true",
                   help="delete the demo data dir (its events, model versions and admin key) and build it again")
    add_quiet(p)
    p.set_defaults(func=cmd_demo)
