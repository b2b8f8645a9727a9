"""``tastemaker privacy erase USER``, ``privacy scan USER`` and ``privacy retention``.

``erase`` runs the same erasure as ``DELETE /v1/users/{id}?erase=true``, inline: it opens
the data dir (so no server may be running on it: a server's in-memory state would still
hold the user and write them back in its next snapshot), and prints the job as JSON.
``scan`` reads every file of the data dir byte by byte for the id (privacy.scan) and exits
1 when anything holds it: the check to run after an erasure. ``retention --dry-run`` counts,
per event type, the events older than ``TASTEMAKER_RETENTION`` allows; ``--apply`` deletes
them and rebuilds online state (privacy.retention), inline, like ``erase``.
"""

from __future__ import annotations

import argparse
import json
import sys

from tastemaker.cli.base import add_data_dir, settings


def cmd_privacy(args: argparse.Namespace) -> int:
    if args.action == "scan":
        from tastemaker.privacy.scan import scan

        found = scan(settings(args).data_dir, args.user)
        for path, n in sorted(found.items()):
            print(f"{n}\t{path}")
        print(f"{sum(found.values())} occurrences in {len(found)} files", file=sys.stderr)
        return 1 if found else 0
    from tastemaker.engine import Engine

    if args.action == "retention":
        return _retention(args)
    engine = Engine(settings(args))
    try:
        job = engine.eraser.erase(args.user)
        if engine.stores.audit is not None:
            engine.stores.audit.append("cli", "user.erase", job.subject, {"job": job.id}, "cli")
    finally:
        engine.close(snapshot=False)  # the erasure wrote its snapshot; nothing else changed
    print(json.dumps(job.to_dict(), indent=2))
    return 0 if job.status == "done" else 1


def _retention(args: argparse.Namespace) -> int:
    from tastemaker.engine import Engine

    config = settings(args)
    if not config.retention:
        print("no retention policy: set TASTEMAKER_RETENTION (e.g. view=90d,search=30d,*=730d)", file=sys.stderr)
        return 2
    engine = Engine(config)
    try:
        job = engine.retention.run(engine.retention.begin(dry_run=not args.apply))
        if args.apply and engine.stores.audit is not None:
            engine.stores.audit.append("cli", "privacy.retention", job.id, {"events_deleted": job.steps.get("events_deleted")}, "cli")
    finally:
        engine.close(snapshot=False)  # the job wrote its snapshot when it changed the state
    print(json.dumps(job.to_dict(), indent=2))
    return 0 if job.status == "done" else 1


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("privacy", help="erase a person everywhere, scan the data dir for an id, apply the retention policy",
                       formatter_class=formatter, description=__doc__.split("\n\n", 1)[1])
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    a = actions.add_parser("erase", formatter_class=formatter,
                           help="erase everything held about USER (stop the server first); prints the job")
    a.add_argument("user", metavar="USER", help="the user id")
    add_data_dir(a)
    a = actions.add_parser("scan", formatter_class=formatter,
                           help="count USER's id (and its unkeyed digests) in every file; exit 1 if any")
    a.add_argument("user", metavar="USER", help="the user id")
    add_data_dir(a)
    a = actions.add_parser("retention", formatter_class=formatter,
                           help="delete events older than TASTEMAKER_RETENTION allows and rebuild online state "
                                "(stop the server first); prints the job")
    mode = a.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="count what would be deleted, per event type")
    mode.add_argument("--apply", action="store_true", help="delete, rebuild, snapshot, reclaim space")
    add_data_dir(a)
    p.set_defaults(func=cmd_privacy, group=p)
