"""storage/backup.py: the manifest, the two containers, and verification before restore."""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tastemaker.config import Settings
from tastemaker.storage.backup import (MANIFEST, BackupError, Manifest, effective_settings, read_manifest,
                                       sha256_of, stage_restore, write_backup)


def staged(root: Path) -> Path:
    d = root / "staged"
    (d / "keys").mkdir(parents=True)
    (d / "a.bin").write_bytes(b"alpha" * 1000)
    (d / "keys" / "k.key").write_bytes(b"secret")
    (d / "keys").chmod(0o700)
    (d / "keys" / "k.key").chmod(0o600)
    return d


@pytest.mark.parametrize("name", ["out", "out.tar", "out.tar.gz"])
def test_manifest_lists_every_file_with_size_sha256_and_mode(tmp_path, name):
    src = staged(tmp_path)
    digest = sha256_of(src / "a.bin")
    manifest = write_backup(src, tmp_path / name, Manifest(deployment="embedded", event_log_position=42))
    assert not src.exists()  # moved or packed, never left behind
    files = {f.path: f for f in manifest.files}
    assert sorted(files) == ["a.bin", "keys/k.key"]
    assert (files["a.bin"].size, files["a.bin"].sha256) == (5000, digest)
    assert files["keys/k.key"].mode == "0600" and manifest.dirs == {"keys": "0700"}
    root = stage_restore(tmp_path / name, tmp_path / "check")
    again = read_manifest(root)
    assert again.event_log_position == 42 and again.created_at == manifest.created_at
    assert (root / "keys" / "k.key").read_bytes() == b"secret"


def test_a_changed_file_is_refused_naming_it(tmp_path):
    write_backup(staged(tmp_path), tmp_path / "out", Manifest(deployment="embedded", event_log_position=0))
    (tmp_path / "out" / "a.bin").write_bytes(b"alpha" * 999 + b"alphX")  # same size, other bytes
    with pytest.raises(BackupError, match="a.bin: checksum mismatch"):
        stage_restore(tmp_path / "out", tmp_path / "check")
    (tmp_path / "out" / "a.bin").unlink()
    with pytest.raises(BackupError, match="a.bin: missing"):
        stage_restore(tmp_path / "out", tmp_path / "check2")


def test_an_archive_path_leaving_the_target_is_refused(tmp_path):
    manifest = Manifest(deployment="embedded", event_log_position=0)
    manifest.files = []
    raw = json.loads(manifest.to_json())
    raw["files"] = [{"path": "../evil", "size": 1, "sha256": "0" * 64, "mode": "0644"}]
    (tmp_path / MANIFEST).write_text(json.dumps(raw))
    with tarfile.open(tmp_path / "bad.tar", "w") as tar:
        tar.add(tmp_path / MANIFEST, arcname=MANIFEST)
    with pytest.raises(BackupError, match="unsafe path '../evil'"):
        stage_restore(tmp_path / "bad.tar", tmp_path / "check")
    assert not (tmp_path / "evil").exists()


def test_not_a_backup_is_refused_clearly(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(BackupError, match="no manifest.json; not a tastemaker backup"):
        stage_restore(tmp_path / "dir", tmp_path / "check")
    (tmp_path / "x.tar").write_bytes(b"not a tar")
    with pytest.raises(BackupError, match="unreadable archive"):
        stage_restore(tmp_path / "x.tar", tmp_path / "check")
    with pytest.raises(BackupError, match="no such backup"):
        stage_restore(tmp_path / "missing.tar", tmp_path / "check")


@dataclass
class WithServiceUrl(Settings):
    service_url: str = "postgresql://tm:hunter2@db:5432/tm"


def test_effective_settings_leave_secrets_out(tmp_path):
    s = WithServiceUrl(data_dir=tmp_path, admin_key="super-secret-admin")
    out = effective_settings(s)
    text = json.dumps(out)
    assert "super-secret-admin" not in text and "admin_key" not in out and "hunter2" not in text
    assert out["service_url"] == "postgresql://tm:***@db:5432/tm"
    assert out["data_dir"] == str(tmp_path) and out["token_ttl_s"] == s.token_ttl_s


def test_docstring_examples_run():
    import doctest

    import tastemaker.storage.backup as backup
    import tastemaker.storage.sqlite.backup as embedded

    for module in (backup, embedded):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
