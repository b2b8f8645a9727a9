"""``tastemaker keys create|list|revoke`` (cli/keys.py)."""

from __future__ import annotations

import re

import pytest

from tastemaker import cli
from tastemaker.config import Settings
from tests.cli.helpers import run


def test_keys_create_list_revoke_real_process(tmp_path):
    data = str(tmp_path / "data")
    code, out, err = run("keys", "create", "--scope", "read", "--scope", "ingest", "--name", "etl", "--data-dir", data)
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    m = re.fullmatch(r"tm_([0-9a-f]+)_\S+", token)
    assert m, out
    key_id = m.group(1)
    assert f"key {key_id} (ingest, read) created" in out

    code, out, _ = run("keys", "list", "--data-dir", data)
    assert code == 0
    assert out.strip().splitlines() == [f"{key_id}\tetl\tingest,read\tactive"]
    assert token not in out

    code, out, _ = run("keys", "revoke", key_id, "--data-dir", data)
    assert code == 0 and f"revoked {key_id}" in out
    code, out, _ = run("keys", "list", "--data-dir", data)
    assert out.strip().endswith("revoked")
    code, _, err = run("keys", "revoke", key_id, "--data-dir", data)
    assert code == 1 and "no active key" in err


def test_keys_create_rejects_unknown_scope(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["keys", "create", "--scope", "root", "--data-dir", str(tmp_path)])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["keys", "create", "--data-dir", str(tmp_path)])  # --scope is required


def test_keys_created_by_cli_authenticate_against_the_api(tmp_path, capsys):
    from starlette.testclient import TestClient

    from tastemaker.api.app import build_app
    from tastemaker.engine import Engine

    data = tmp_path / "data"
    assert cli.main(["keys", "create", "--scope", "ingest", "--data-dir", str(data)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    app = build_app(Engine(Settings(data_dir=data, admin_key=None, durable=False)))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        assert c.post("/v1/events", json={"id": "e", "type": "view", "user_id": "u", "item_id": "i"}).status_code == 200
        assert c.get("/v1/recommendations", params={"user_id": "u"}).status_code == 403
