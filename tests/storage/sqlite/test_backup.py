"""storage/sqlite/backup.py: the embedded deployment's backup, online while a writer appends."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from tastemaker.config import Settings
from tastemaker.storage.backup import BackupError
from tastemaker.storage.sqlite import Database
from tastemaker.storage.sqlite.backup import EmbeddedBackup
from tastemaker.storage.sqlite.events import SQLiteEventLog
from tests.storage.helpers import ev

FILES = {  # path -> (bytes, mode): what a data dir holds besides its database
    "state.snapshot": (b"snapshot-bytes", 0o644),
    "models/sha256-ab.pkl": (b"model" * 100, 0o600),
    "placements.yaml": (b"placements: {home: {sources: {popular: 1}}}\n", 0o644),
    "experiments.yaml": (b"experiments: {}\n", 0o644),
    "erasure.key": (os.urandom(32), 0o600),
    "pii.keys": (b"01" * 32 + b"\n", 0o600),
    "pseudonym.keys": (b"02" * 32 + b"\n", 0o600),
    "signing-keys/k1.pem": (b"-----BEGIN PRIVATE KEY-----\n", 0o600),
}


def data_dir(root: Path, events: int = 50) -> Path:
    d = root / "data"
    db = Database(d / "tastemaker.db")
    SQLiteEventLog(db).append([ev(i) for i in range(events)])
    db.close()
    for rel, (body, mode) in FILES.items():
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        path.chmod(mode)
    (d / "signing-keys").chmod(0o700)
    return d


def event_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM events ORDER BY seq")]
    finally:
        conn.close()


@pytest.mark.parametrize("dest", ["backup", "backup.tar", "backup.tgz"])
def test_restore_gives_back_every_file_its_bytes_and_modes(tmp_path, dest):
    src = data_dir(tmp_path)
    manifest = EmbeddedBackup(Settings(data_dir=src)).create(tmp_path / dest)
    assert manifest.event_log_position == 50 and manifest.deployment == "embedded"
    paths = {f.path for f in manifest.files}
    assert paths == set(FILES) | {"tastemaker.db"}  # no -wal, -shm or -changes files
    restored = tmp_path / "restored"
    EmbeddedBackup(Settings(data_dir=restored)).restore(tmp_path / dest)
    for rel, (body, mode) in FILES.items():
        assert (restored / rel).read_bytes() == body
        assert (restored / rel).stat().st_mode & 0o777 == mode, rel
    assert (restored / "signing-keys").stat().st_mode & 0o777 == 0o700
    assert event_ids(restored / "tastemaker.db") == [f"e{i}" for i in range(50)]


def test_backup_while_a_writer_appends_holds_a_prefix_of_the_log(tmp_path):
    src = data_dir(tmp_path, events=0)
    db = Database(src / "tastemaker.db", durable=False)
    log = SQLiteEventLog(db)
    log.append([ev(f"pre{i}") for i in range(2000)])
    acked_before = set(event_ids(src / "tastemaker.db"))
    stop, running = threading.Event(), threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            log.append([ev(f"w{n}-{k}") for k in range(20)])
            n += 1
            if n == 5:
                running.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        running.wait()  # the copy is taken while the writer appends
        manifest = EmbeddedBackup(Settings(data_dir=src)).create(tmp_path / "b.tar")
    finally:
        stop.set()
        thread.join()
    db.close()
    restored = tmp_path / "restored"
    EmbeddedBackup(Settings(data_dir=restored)).restore(tmp_path / "b.tar")
    got = event_ids(restored / "tastemaker.db")
    everything = event_ids(src / "tastemaker.db")
    assert acked_before <= set(got)
    assert got == everything[:len(got)]  # a prefix of the log: nothing skipped, nothing torn
    assert len(got) == manifest.event_log_position < len(everything)


def test_restore_refuses_a_data_dir_holding_files_unless_forced(tmp_path):
    src = data_dir(tmp_path)
    EmbeddedBackup(Settings(data_dir=src)).create(tmp_path / "b")
    target = tmp_path / "target"
    target.mkdir()
    (target / "old.txt").write_text("keep me")
    with pytest.raises(BackupError, match="not empty; restore into an empty data dir, or pass --force"):
        EmbeddedBackup(Settings(data_dir=target)).restore(tmp_path / "b")
    assert (target / "old.txt").read_text() == "keep me"
    (tmp_path / "b" / "erasure.key").write_bytes(b"tampered")
    with pytest.raises(BackupError, match="erasure.key"):  # damaged: even --force leaves the target as it was
        EmbeddedBackup(Settings(data_dir=target)).restore(tmp_path / "b", force=True)
    assert (target / "old.txt").read_text() == "keep me"
    EmbeddedBackup(Settings(data_dir=src)).create(tmp_path / "b2")
    EmbeddedBackup(Settings(data_dir=target)).restore(tmp_path / "b2", force=True)
    assert not (target / "old.txt").exists() and len(event_ids(target / "tastemaker.db")) == 50


def test_backup_refuses_an_existing_target_or_one_inside_the_data_dir(tmp_path):
    src = data_dir(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(BackupError, match="exists"):
        EmbeddedBackup(Settings(data_dir=src)).create(tmp_path / "taken")
    with pytest.raises(BackupError, match="inside the data dir"):
        EmbeddedBackup(Settings(data_dir=src)).create(src / "b.tar")
    with pytest.raises(BackupError, match="no data dir"):
        EmbeddedBackup(Settings(data_dir=tmp_path / "nothing")).create(tmp_path / "b.tar")


def test_a_placement_file_outside_the_data_dir_is_restored_into_it(tmp_path):
    src = data_dir(tmp_path)
    (src / "placements.yaml").unlink()
    outside = tmp_path / "etc" / "tm-placements.yaml"
    outside.parent.mkdir()
    outside.write_text("placements: {deals: {sources: {popular: 1}}}\n")
    manifest = EmbeddedBackup(Settings(data_dir=src, placements_file=outside)).create(tmp_path / "b.tar")
    assert "external/placements.yaml" in {f.path for f in manifest.files}
    restored = tmp_path / "restored"
    EmbeddedBackup(Settings(data_dir=restored)).restore(tmp_path / "b.tar")
    assert (restored / "placements.yaml").read_text() == outside.read_text()
    assert not (restored / "external").exists()
