"""``tastemaker keys create|list|revoke``."""

from __future__ import annotations

import argparse
import sys

from tastemaker.cli.base import add_data_dir, record_audit, settings

SCOPES = ["ingest", "read", "admin", "analyst", "tracker", "privacy_officer"]  # roles (api.auth.ROLES; browser keys: the API)


def cmd_keys(args: argparse.Namespace) -> int:
    from tastemaker.api.keys import create_key
    from tastemaker.storage.factory import open_stores

    with open_stores(settings(args)) as stores:
        if args.action == "create":
            try:
                record, token = create_key(stores.keys, args.name, set(args.scope or []))
            except ValueError as exc:
                print(exc, file=sys.stderr)
                return 2
            record_audit(stores, "keys.create", record.key_id, {"name": record.name, "scopes": sorted(record.scopes)})
            print(f"key {record.key_id} ({', '.join(sorted(record.scopes))}) created; the token is shown only once:")
            print(token)
        elif args.action == "list":
            for r in stores.keys.list():
                print(f"{r.key_id}\t{r.name}\t{','.join(sorted(r.scopes))}\t{'revoked' if r.revoked else 'active'}")
        else:
            if not stores.keys.revoke(args.key_id):
                print(f"no active key {args.key_id}", file=sys.stderr)
                return 1
            record_audit(stores, "keys.revoke", args.key_id)
            print(f"revoked {args.key_id}")
    return 0


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("keys", help="create, list or revoke API keys", formatter_class=formatter,
                       description="API keys are stored hashed; a new key's token is printed once.")
    keys = p.add_subparsers(dest="action", metavar="ACTION")
    k = keys.add_parser("create", help="create a key and print its token", formatter_class=formatter)
    k.add_argument("--scope", action="append", choices=SCOPES, required=True,
                   help="a scope the key grants; repeat for several (--scope ingest --scope read)")
    k.add_argument("--name", default="cli", help="a label shown by `keys list`")
    add_data_dir(k)
    k = keys.add_parser("list", help="list keys (id, name, scopes, state); never the tokens", formatter_class=formatter)
    add_data_dir(k)
    k = keys.add_parser("revoke", help="revoke a key: refused on the next request by every server", formatter_class=formatter)
    k.add_argument("key_id", help="the key's id, as `keys list` shows it")
    add_data_dir(k)
    p.set_defaults(func=cmd_keys, group=p)
