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

from tastemaker.cli.base import add_data_dir, record_audit, settings


def cmd_privacy(args: argparse.Namespace) -> int:
    if args.action == "scan":
        from tastemaker.privacy.scan import scan

        config = settings(args)
        found = scan(config.data_dir, args.user)
        if config.pseudonymize:  # the stored form too (privacy.pseudonyms)
            from tastemaker.privacy.pseudonyms import Pseudonyms

            for path, n in scan(config.data_dir, Pseudonyms.open(config.data_dir)(args.user)).items():
                found[path] = found.get(path, 0) + n
        for path, n in sorted(found.items()):
            print(f"{n}\t{path}")
        print(f"{sum(found.values())} occurrences in {len(found)} files", file=sys.stderr)
        return 1 if found else 0
    from tastemaker.engine import Engine

    if args.action == "retention":
        return _retention(args)
    if args.action in ("reencrypt", "rotate-pii-key"):
        return _reencrypt(args)
    if args.action == "rekey-pseudonyms":
        return _rekey(args)
    engine = Engine(settings(args))
    try:
        # USER as the caller knows it; stored as its pseudonym when pseudonymization is on
        job = engine.eraser.erase(engine.pseudonyms(args.user) if engine.pseudonyms else args.user)
        record_audit(engine.stores, "user.erase", job.subject, {"job": job.id})
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
        if args.apply:
            record_audit(engine.stores, "privacy.retention", job.id, {"events_deleted": job.steps.get("events_deleted")})
    finally:
        engine.close(snapshot=False)  # the job wrote its snapshot when it changed the state
    print(json.dumps(job.to_dict(), indent=2))
    return 0 if job.status == "done" else 1


def _reencrypt(args: argparse.Namespace) -> int:
    """Re-seal every profile's PII traits under the current key (after a new one, for rotate-pii-key)."""
    import os

    from tastemaker.storage.factory import open_stores
    from tastemaker.storage.pii import KEY_ENV, KEY_FILE, add_key, drop_old_keys, reencrypt

    config = settings(args)
    if not config.pii_traits:
        print("no PII traits: set TASTEMAKER_PII_TRAITS (e.g. email,phone,name)", file=sys.stderr)
        return 2
    if args.action == "rotate-pii-key":
        if os.environ.get(KEY_ENV):
            print(f"keys come from {KEY_ENV}: put the new key there, the old one in TASTEMAKER_PII_OLD_KEYS, "
                  "then run `tastemaker privacy reencrypt`", file=sys.stderr)
            return 2
        config.data_dir.mkdir(parents=True, exist_ok=True)
        add_key(config.data_dir / KEY_FILE)
    stores = open_stores(config)
    try:
        done = reencrypt(stores.users)
        stores.reclaim()  # the rows' earlier bytes leave the database file and its WAL
        result = {"key": stores.users.cipher.current, **done}
        if args.action == "rotate-pii-key" and args.drop_old:
            result["old_keys_dropped"] = drop_old_keys(config.data_dir / KEY_FILE)  # nothing is sealed under them now
        record_audit(stores, "privacy.reencrypt", result["key"], result)
    finally:
        stores.close()
    print(json.dumps(result, indent=2))
    return 0


def _rekey(args: argparse.Namespace) -> int:
    """A new pseudonym key (unless keys come from the environment or --keep-key), every stored
    user id rewritten under it, the state snapshot rebuilt from the rewritten log, space reclaimed."""
    import os

    from tastemaker.engine import Engine
    from tastemaker.privacy.pseudonyms import KEY_ENV, Pseudonyms, rotate_key_file
    from tastemaker.privacy.rekey import rekey_pseudonyms
    from tastemaker.storage.factory import open_stores

    config = settings(args)
    if not config.pseudonymize:
        print("pseudonymization is off: set TASTEMAKER_PSEUDONYMIZE=1", file=sys.stderr)
        return 2
    rotated = not args.keep_key and not os.environ.get(KEY_ENV)
    if rotated:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        rotate_key_file(config.data_dir)
    pseudonyms = Pseudonyms.open(config.data_dir)
    stores = open_stores(config)
    try:
        result = {"key": pseudonyms.current, "rotated": rotated,
                  **rekey_pseudonyms(stores, pseudonyms, config.snapshot_key)}
    finally:
        stores.close()
    engine = Engine(config)  # no snapshot: replays the rewritten log into a fresh state
    try:
        engine.stores.reclaim()  # the old ids leave the database file and its WAL
        record_audit(engine.stores, "privacy.rekey_pseudonyms", result["key"], result)
    finally:
        engine.close(snapshot=True)
    print(json.dumps(result, indent=2))
    return 0


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
    a = actions.add_parser("reencrypt", formatter_class=formatter,
                           help="seal every profile's PII traits (TASTEMAKER_PII_TRAITS) under the current key")
    add_data_dir(a)
    a = actions.add_parser("rotate-pii-key", formatter_class=formatter,
                           help="add a new PII key to <data>/pii.keys and re-encrypt every profile under it "
                                "(stop the server first)")
    a.add_argument("--drop-old", action="store_true", help="then remove the old keys (backups under them stop opening)")
    add_data_dir(a)
    a = actions.add_parser("rekey-pseudonyms", formatter_class=formatter,
                           help="add a pseudonym key to <data>/pseudonym.keys and rewrite every stored user id under it "
                                "(events, profiles, impressions, key bindings; the snapshot is rebuilt; stop the server first)")
    a.add_argument("--keep-key", action="store_true",
                   help="add no key: rewrite ids under the current one (after setting TASTEMAKER_PSEUDONYM_KEY, or to "
                        "pseudonymize ids stored before pseudonymization was on)")
    add_data_dir(a)
    p.set_defaults(func=cmd_privacy, group=p)
