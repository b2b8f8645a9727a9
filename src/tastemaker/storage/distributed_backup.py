"""Backup and restore of the distributed deployment: PostgreSQL, the JetStream event log, config.

Online and consistent while workers write. The order is what makes it consistent:

1. PostgreSQL first, as one snapshot (``storage.postgres.dump``: every table by COPY in one
   ``REPEATABLE READ`` transaction). Inside that snapshot the stream's last sequence is read
   and recorded as ``postgres_consistent_with``: everything the copied stores refer to
   (the state snapshot's applied position, impressions' log positions) is at or below it
   or was appended during the copy.
2. The stream next (``storage.nats.snapshot``), up to its last sequence at that moment, which
   is at or past every position the PostgreSQL copy names: a restored worker loads the
   state snapshot and replays the rest, never skipping an event.
3. The configuration last: the placement and experiments documents kept outside the stores
   (``TASTEMAKER_PLACEMENTS``; those in the artifact store are in the PostgreSQL copy), the
   data dir's key files (tombstone and pseudonym keys), and the effective settings with
   secrets left out (in the manifest).

Redis is not backed up: it holds only what may be lost (rate-limit buckets, leases).
Restore refuses targets that hold data (a schema with rows, a stream that ever held a
message) unless ``force``, checks every file's checksum first, and keeps stream sequences.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import psycopg

from tastemaker.config import Settings
from tastemaker.storage.backup import (
    BackupError,
    Manifest,
    effective_settings,
    read_manifest,
    stage_restore,
    write_backup,
)
from tastemaker.storage.nats.jetstream import StreamSpec
from tastemaker.storage.postgres.database import split_schema
from tastemaker.storage.postgres.dump import (
    DumpError,
    dump_schema,
    holds_data,
    restore_schema,
)
from tastemaker.storage.sqlite.backup import SKIPPED_SUFFIXES, _version, is_sqlite_file

DESCRIPTION = "distributed.json"
STREAM_FILE = "nats/events.stream"
DATA_DIR = "data_dir"  # the data dir's key files
EXTERNAL = "external"  # placements.yaml / experiments.yaml kept outside the stores
SKIPPED_DIRS = ("leases",)  # a node's own lock files


def stream_spec(settings: Settings) -> StreamSpec:
    """The deployment's event stream as the factory opens it."""
    return StreamSpec(name=settings.nats_stream, subject_prefix=settings.nats_subject_prefix)


class DistributedBackup:
    """:class:`~tastemaker.storage.backup.Backup` of PostgreSQL, the stream and the configuration."""

    deployment = "distributed"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        self.spec = stream_spec(settings)

    def create(self, dest: Path) -> Manifest:
        from tastemaker.storage.nats.events import NatsEventLog
        from tastemaker.storage.nats.snapshot import dump_stream

        dest = Path(dest).resolve()
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BackupError(f"{dest}: exists; a backup is written to a new directory or archive")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            dest.rmdir()
        staged = dest.parent / f".{dest.name}.staging-{os.getpid()}"
        staged.mkdir(mode=0o700)
        try:
            started = time.perf_counter()
            log = NatsEventLog(self.settings.nats_url, self.spec)
            try:
                pg = dump_schema(self.settings.postgres_url, staged / "postgres", inside=log.last_seq)
            except (psycopg.Error, DumpError) as exc:
                raise BackupError(f"PostgreSQL: {exc}") from None
            finally:
                log.close()
            (staged / "nats").mkdir()
            copied = time.perf_counter()
            stream = dump_stream(self.settings.nats_url, self.spec, staged / STREAM_FILE)
            self._copy_config(staged)
            description = {"postgres": pg, "stream": stream, "postgres_consistent_with": pg.pop("inside"),
                           "seconds": {"postgres": round(copied - started, 3),
                                       "stream": round(time.perf_counter() - copied, 3)}}
            (staged / DESCRIPTION).write_text(json.dumps(description, indent=2, sort_keys=True))
            manifest = Manifest(deployment=self.deployment, event_log_position=stream["last_seq"],
                                tastemaker_version=_version(), settings=effective_settings(self.settings))
            return write_backup(staged, dest, manifest)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def restore(self, src: Path, *, force: bool = False) -> Manifest:
        from tastemaker.storage.nats.snapshot import SnapshotError, restore_stream

        staging = Path(src).resolve().parent / f".{Path(src).name}.restore-{os.getpid()}"
        try:
            root = stage_restore(Path(src), staging)
            manifest = read_manifest(root)
            if manifest.deployment != self.deployment:
                raise BackupError(f"{src}: a backup of the {manifest.deployment} deployment, not {self.deployment}")
            description = json.loads((root / DESCRIPTION).read_text())
            files = self._config_files(root)
            if not force:  # every target checked before anything is written
                self._check_empty(files)
            try:
                restore_schema(self.settings.postgres_url, root / "postgres", description["postgres"], force=force)
                restore_stream(self.settings.nats_url, self.spec, root / STREAM_FILE, description["stream"], force=force)
            except (psycopg.Error, DumpError, SnapshotError) as exc:
                raise BackupError(str(exc)) from None
            for src_path, dst in files:
                dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                shutil.copyfile(src_path, dst)
                os.chmod(dst, src_path.stat().st_mode & 0o777)
            return manifest
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _check_empty(self, files: list[tuple[Path, Path]]) -> None:
        from tastemaker.storage.nats.events import NatsEventLog

        conninfo, schema = split_schema(self.settings.postgres_url)
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                busy = holds_data(conn, schema)
        except psycopg.Error as exc:
            raise BackupError(f"PostgreSQL: {exc}") from None
        if busy:
            raise BackupError(f"schema {schema} holds data (tables {', '.join(busy)}); restore onto empty "
                              "services, or pass --force to replace what they hold")
        log = NatsEventLog(self.settings.nats_url, self.spec)
        try:
            last = log.last_seq()
        finally:
            log.close()
        if last:
            raise BackupError(f"stream {self.spec.name} is not empty (last sequence {last}); restore onto empty "
                              "services, or pass --force to replace what they hold")
        clashes = [str(dst) for src, dst in files if dst.exists() and dst.read_bytes() != src.read_bytes()]
        if clashes:
            raise BackupError(f"{', '.join(clashes)}: exist with other contents; pass --force to replace them")

    def _copy_config(self, staged: Path) -> None:
        if self.data_dir.is_dir():
            for dirpath, dirnames, filenames in os.walk(self.data_dir):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
                for name in sorted(filenames):
                    path = Path(dirpath) / name
                    if name.endswith(SKIPPED_SUFFIXES) or is_sqlite_file(path):
                        continue
                    target = staged / DATA_DIR / path.relative_to(self.data_dir)
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    shutil.copy2(path, target)
        placements = self.settings.placements_file
        if placements is not None:
            placements = Path(placements).resolve()
            for path in (placements, placements.with_name("experiments.yaml")):
                if path.is_file():
                    (staged / EXTERNAL).mkdir(exist_ok=True)
                    shutil.copy2(path, staged / EXTERNAL / ("placements.yaml" if path == placements else path.name))

    def _config_files(self, root: Path) -> list[tuple[Path, Path]]:
        """``(backup file, target path)`` of the configuration: key files into the data dir,
        outside documents into the data dir too (point ``TASTEMAKER_PLACEMENTS`` at them)."""
        out = []
        for base in (root / DATA_DIR, root / EXTERNAL):
            if base.is_dir():
                for path in sorted(p for p in base.rglob("*") if p.is_file()):
                    out.append((path, self.data_dir / path.relative_to(base)))
        return out
