"""``tastemaker backup DEST`` / ``tastemaker restore SRC``: online backups of a deployment.

Both are recorded in the audit log: the backup in the data dir it copied (after the copy, so
the record is not in the backup itself), the restore in the restored data dir.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tastemaker.cli.base import add_data_dir, record_audit, settings


def cmd_backup(args: argparse.Namespace) -> int:
    from tastemaker.storage.backup import BackupError
    from tastemaker.storage.factory import open_backup, open_stores

    config = settings(args)
    started = time.perf_counter()
    try:
        manifest = open_backup(config).create(Path(args.dest))
    except (BackupError, ValueError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, BackupError) else 2
    elapsed = time.perf_counter() - started
    with open_stores(config) as stores:
        record_audit(stores, "backup.create", str(Path(args.dest).resolve()),
                     {"files": len(manifest.files), "bytes": manifest.size,
                      "event_log_position": manifest.event_log_position})
    print(f"backup {args.dest}: {len(manifest.files)} files, {manifest.size:,} bytes, "
          f"event log position {manifest.event_log_position}, in {elapsed:.1f}s")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from tastemaker.storage.backup import BackupError, effective_settings
    from tastemaker.storage.factory import open_backup, open_stores

    config = settings(args)
    started = time.perf_counter()
    try:
        manifest = open_backup(config).restore(Path(args.src), force=args.force)
    except (BackupError, ValueError) as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, BackupError) else 2
    elapsed = time.perf_counter() - started
    with open_stores(config) as stores:
        record_audit(stores, "backup.restore", str(Path(args.src).resolve()),
                     {"created_at": manifest.created_at, "event_log_position": manifest.event_log_position,
                      "files": len(manifest.files), "forced": bool(args.force)})
    print(f"restored {args.src} (made {manifest.created_at} by tastemaker {manifest.tastemaker_version}) into "
          f"{config.data_dir}: {len(manifest.files)} files checked, event log position "
          f"{manifest.event_log_position}, in {elapsed:.1f}s")
    # Settings come from the environment: show where this one differs from the backed-up one.
    now = effective_settings(config)
    differ = sorted(k for k in manifest.settings if k != "data_dir" and now.get(k) != manifest.settings[k])
    for key in differ:
        print(f"note: setting {key} was {manifest.settings[key]!r} when backed up, is {now.get(key)!r} now",
              file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser(
        "backup", formatter_class=formatter,
        help="online, consistent backup of the deployment into a directory or a .tar/.tar.gz archive",
        description="Copies every SQLite file with SQLite's online backup API while servers keep writing, the model "
                    "artifacts, the state snapshot, the placement and experiments documents and the key files (modes "
                    "kept), with a manifest: files, sizes, sha256, the event log's position, the configuration. With "
                    "TASTEMAKER_BACKEND=distributed: every PostgreSQL table of the schema in one snapshot, the "
                    "JetStream stream up to its last sequence, the data dir's key files.\n\n"
                    "  tastemaker backup /backups/tm-$(date +%F).tar --data-dir /var/lib/tastemaker")
    p.add_argument("dest", metavar="DEST", help="a new directory, or an archive path ending in .tar, .tar.gz or .tgz")
    add_data_dir(p)
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore", formatter_class=formatter,
        help="restore a backup into an empty data dir or empty services (checksums verified first)",
        description="Verifies every file of the backup against its manifest before touching the target; refuses a "
                    "data dir that holds files unless --force. Stop the servers of the target first.\n\n"
                    "  tastemaker restore /backups/tm-2026-12-05.tar --data-dir /var/lib/tastemaker-new")
    p.add_argument("src", metavar="SRC", help="a backup directory or archive written by `tastemaker backup`")
    p.add_argument("--force", action="store_true",
                   help="replace what the target data dir holds (only after the backup verified)")
    add_data_dir(p)
    p.set_defaults(func=cmd_restore)
