"""Backup and restore of the embedded deployment: SQLite files plus the data dir's files.

Online and consistent while servers write: every SQLite file is copied with SQLite's online
backup API (``sqlite3.Connection.backup``, one step, so the copy is one read transaction's
view while WAL lets writers go on); the other files (model artifacts, placements and
experiments documents, key files) are copied as they are, each replaced atomically by its
writers. The order makes the copy consistent: the state snapshot first (its applied
position can then never be ahead of the copied log, which would make a restored server skip
events), the databases next, the remaining files last (a model the copied registry names was
written before it was registered, so it is there).

Keys given by the environment (``TASTEMAKER_PII_KEY``...) are not files and are not copied:
keep them with the backup. The effective configuration is recorded in the manifest, secrets
left out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

from tastemaker.config import Settings
from tastemaker.storage.backup import (BackupError, Manifest, effective_settings, read_manifest, stage_restore,
                                      write_backup)

SQLITE_HEADER = b"SQLite format 3\x00"
# Files a process makes for itself and that a backup must not carry: SQLite's WAL and shared
# memory (folded into the copy by the backup API), the change-token maps, writes in progress.
SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", "-changes", ".tmp")
EXTERNAL = "external"  # placements.yaml / experiments.yaml kept outside the data dir
_LAST_SEQ = ("SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM event_rows), "
             "(SELECT COALESCE(MAX(last_seq), 0) FROM event_segments), "
             "(SELECT COALESCE(MAX(seq), 0) FROM event_seq_floor))")


def is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except OSError:
        return False


def copy_database(src: Path, dst: Path) -> None:
    """An online, consistent copy of a SQLite file (all pages in one step: one read snapshot)."""
    source = sqlite3.connect(src, timeout=30.0)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            # One self-contained file: a WAL-mode copy would grow -wal/-shm files beside it when
            # read; the server that opens the restored file switches back to WAL.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    os.chmod(dst, os.stat(src).st_mode & 0o777)


def log_position(db: Path) -> int:
    """The event log's last position in a copied database (0 for a file without the log)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(_LAST_SEQ).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


class EmbeddedBackup:
    """:class:`~tastemaker.storage.backup.Backup` of a data dir (SQLite plus local files).

    >>> import tempfile, pathlib
    >>> from tastemaker.storage.sqlite import Database
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> Database(root / "data" / "tastemaker.db").close()
    >>> m = EmbeddedBackup(Settings(data_dir=root / "data")).create(root / "b.tar")
    >>> [f.path for f in m.files], m.event_log_position
    (['tastemaker.db'], 0)
    >>> EmbeddedBackup(Settings(data_dir=root / "restored")).restore(root / "b.tar").deployment
    'embedded'
    """

    deployment = "embedded"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()

    def create(self, dest: Path) -> Manifest:
        dest = Path(dest).resolve()
        if not self.data_dir.is_dir():
            raise BackupError(f"{self.data_dir}: no data dir to back up")
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BackupError(f"{dest}: exists; a backup is written to a new directory or archive")
        if dest == self.data_dir or self.data_dir in dest.parents:
            raise BackupError(f"{dest}: inside the data dir it backs up")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_dir():
            dest.rmdir()  # an empty directory named as the target: fill it
        staged = dest.parent / f".{dest.name}.staging-{os.getpid()}"
        staged.mkdir(mode=0o700)
        try:
            snapshot = self.data_dir / self.settings.snapshot_key
            if snapshot.is_file():  # first: its position must not be ahead of the copied log
                shutil.copy2(snapshot, staged / self.settings.snapshot_key)
            databases = [p for p in self._files() if is_sqlite_file(p)]
            for db in databases:
                copy_database(db, self._staged_path(db, staged))
            main_db = staged / self.settings.db_path.name
            position = log_position(main_db) if main_db.exists() else 0
            done = set(databases) | {snapshot}
            for path in self._files():
                if path not in done:
                    self._copy(path, staged)
            self._copy_external(staged)
            manifest = Manifest(deployment=self.deployment, event_log_position=position,
                                tastemaker_version=_version(), settings=effective_settings(self.settings))
            return write_backup(staged, dest, manifest)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def restore(self, src: Path, *, force: bool = False) -> Manifest:
        target = self.data_dir
        if target.exists() and not target.is_dir():
            raise BackupError(f"{target}: not a directory")
        if target.is_dir() and any(target.iterdir()) and not force:
            raise BackupError(f"{target}: not empty; restore into an empty data dir, or pass --force to replace it")
        staging = target.parent / f".{target.name}.restore-{os.getpid()}"
        try:
            root = stage_restore(Path(src), staging)
            manifest = read_manifest(root)
            if manifest.deployment != self.deployment:
                raise BackupError(f"{src}: a backup of the {manifest.deployment} deployment, not {self.deployment}")
            for entry in manifest.files:
                if entry.path.endswith(".db") or entry.path == self.settings.db_path.name:
                    _quick_check(root / entry.path)
            if target.exists():  # --force: only now, with every file of the backup verified
                for child in target.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o700)
            for rel, mode in sorted(manifest.dirs.items()):
                if rel.split("/")[0] != EXTERNAL:
                    (target / rel).mkdir(parents=True, exist_ok=True)
                    os.chmod(target / rel, int(mode, 8))
            for entry in manifest.files:
                parts = entry.path.split("/")
                dst = target / parts[-1] if parts[0] == EXTERNAL else target / entry.path
                shutil.copyfile(root / entry.path, dst)  # a directory backup stays as it was
                os.chmod(dst, int(entry.mode, 8))
            return manifest
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _files(self) -> list[Path]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.data_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.endswith(SKIPPED_SUFFIXES):
                    out.append(Path(dirpath) / name)
        return out

    def _staged_path(self, src: Path, staged: Path) -> Path:
        """Where ``src`` goes under ``staged``, its directories made with their modes (signing-keys: 0700)."""
        rel = src.relative_to(self.data_dir)
        for sub in reversed(rel.parents[:-1]):  # 'a', then 'a/b'
            made = staged / sub
            if not made.exists():
                made.mkdir()
                os.chmod(made, os.stat(self.data_dir / sub).st_mode & 0o777)
        return staged / rel

    def _copy(self, src: Path, staged: Path) -> None:
        with contextlib.suppress(FileNotFoundError):  # deleted since the walk (an old model): not part of it
            shutil.copy2(src, self._staged_path(src, staged))

    def _copy_external(self, staged: Path) -> None:
        """The placement document the operator keeps outside the data dir, and the experiments
        document beside it; restored into the data dir."""
        placements = self.settings.placements_file
        if placements is None:
            return
        placements = Path(placements).resolve()
        if self.data_dir in placements.parents:
            return  # copied with the data dir
        for path in (placements, placements.with_name("experiments.yaml")):
            if path.is_file():
                (staged / EXTERNAL).mkdir(exist_ok=True)
                shutil.copy2(path, staged / EXTERNAL / ("placements.yaml" if path == placements else path.name))


def _quick_check(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{db.name}: not a readable SQLite database ({exc})") from None
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"{db.name}: SQLite quick_check failed: {result}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tastemaker")
    except PackageNotFoundError:
        from tastemaker import __version__

        return __version__

