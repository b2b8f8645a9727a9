"""``tastemaker audit verify|list``: check the audit log's hash chain, show its records."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from tastemaker.cli.base import add_data_dir, settings


def cmd_audit(args: argparse.Namespace) -> int:
    from tastemaker.storage.audit_chain import verify
    from tastemaker.storage.factory import open_stores

    with open_stores(settings(args)) as stores:
        if stores.audit is None:
            print("this backend keeps no audit log", file=sys.stderr)
            return 2
        if args.action == "verify":
            result = verify(stores.audit.iter_all())
            if not result.ok:
                print(f"audit log BROKEN at record {result.bad_seq}: {result.reason} "
                      f"({result.records} records before it verify)", file=sys.stderr)
                return 1
            if args.head and args.head != result.head:
                print(f"audit log verifies ({result.records} records) but its head {result.head} is not the expected "
                      f"{args.head}: records were removed from the end, or this is another log", file=sys.stderr)
                return 1
            print(f"audit log OK: {result.records} records, head {result.head}")
        else:
            for r in stores.audit.read(limit=args.limit, action=args.filter_action, target=args.target):
                when = datetime.fromtimestamp(r.ts, timezone.utc).isoformat(timespec="seconds")
                summary = json.dumps(r.summary, sort_keys=True, ensure_ascii=False)
                print(f"{r.seq}\t{when}\t{r.actor}\t{r.address}\t{r.action}\t{r.target}\t{summary}")
    return 0


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("audit", help="verify or list the audit log of admin actions", formatter_class=formatter,
                       description="Every admin action (keys, placements, models, event schemas) and consent change is "
                                   "recorded in an append-only log; each record holds the hash of the one before.")
    audit = p.add_subparsers(dest="action", metavar="ACTION")
    a = audit.add_parser("verify", formatter_class=formatter,
                         help="check the hash chain; exit 1 naming the first changed, removed or inserted record")
    a.add_argument("--head", metavar="HASH",
                   help="the head hash printed by an earlier verify: also catches records cut from the end")
    add_data_dir(a)
    a = audit.add_parser("list", help="the newest records, tab-separated", formatter_class=formatter)
    a.add_argument("--limit", type=int, default=50, help="how many records")
    a.add_argument("--action", dest="filter_action", metavar="ACTION", help="only this action, or a family (`keys.`)")
    a.add_argument("--target", help="only records about this target")
    add_data_dir(a)
    p.set_defaults(func=cmd_audit, group=p)
