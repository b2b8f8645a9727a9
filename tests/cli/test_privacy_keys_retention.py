"""``tastemaker privacy retention --dry-run|--apply``, ``privacy reencrypt`` and
``privacy rotate-pii-key``: what they print, and what is left in the data dir."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tastemaker import cli
from tastemaker.config import Settings
from tastemaker.privacy.scan import count_in_file
from tastemaker.schema.records import Event, User
from tastemaker.storage.factory import open_stores
from tastemaker.storage.pii import KEY_FILE

EMAIL = "grace.hopper-51c2@example.org"


def _found(root: Path, text: str) -> int:
    return sum(count_in_file(p, [text.encode()]) for p in root.rglob("*") if p.is_file())


def test_retention_dry_run_then_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    now = time.time()
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    stores.events.append([Event(id=f"old-{i:04d}-x", type="view", user_id="u1", item_id="i1", timestamp=now - 100 * 86_400)
                          for i in range(20)] +
                         [Event(id="kept-0001-x", type="view", user_id="u1", item_id="i2", timestamp=now - 86_400)])
    stores.close()
    assert cli.main(["privacy", "retention", "--dry-run", "--data-dir", str(tmp_path)]) == 2  # no policy set
    monkeypatch.setenv("TASTEMAKER_RETENTION", "view=90d,*=730d")
    assert cli.main(["privacy", "retention", "--dry-run", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["steps"]["events_expired"] == {"view": 20}
    assert _found(tmp_path, "old-0007-x") > 0
    assert cli.main(["privacy", "retention", "--apply", "--data-dir", str(tmp_path)]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["status"] == "done" and job["steps"]["events_deleted"] == {"view": 20}
    assert _found(tmp_path, "old-0007-x") == 0 and _found(tmp_path, "kept-0001-x") > 0


def test_reencrypt_seals_profiles_written_before_and_rotation_drops_old_keys(tmp_path: Path, monkeypatch, capsys):
    plain = open_stores(Settings(data_dir=tmp_path, durable=False))  # written before PII traits were set
    plain.users.upsert([User(id="u1", traits={"email": EMAIL, "plan": "pro"})])
    plain.close()
    assert _found(tmp_path, EMAIL) > 0
    monkeypatch.setenv("TASTEMAKER_PII_TRAITS", "email,phone")
    assert cli.main(["privacy", "reencrypt", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["profiles"] == 1
    assert _found(tmp_path, EMAIL) == 0
    first = (tmp_path / KEY_FILE).read_text().split()
    assert cli.main(["privacy", "rotate-pii-key", "--drop-old", "--data-dir", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    keys = (tmp_path / KEY_FILE).read_text().split()
    assert result["profiles"] == 1 and result["old_keys_dropped"] == 1 and len(keys) == 1 and keys != first
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    assert stores.users.get("u1").traits == {"email": EMAIL, "plan": "pro"}
    stores.close()
    assert _found(tmp_path, EMAIL) == 0
