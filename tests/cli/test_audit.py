"""``tastemaker audit verify|list`` on a real data dir, and key commands that leave records."""

from __future__ import annotations

import getpass
import socket
import sqlite3

from tastemaker.config import Settings
from tests.cli.helpers import run


def test_verify_list_and_a_tampered_log(tmp_path):
    data = str(tmp_path / "data")
    assert run("audit", "verify", "--data-dir", data)[:2] == (0, "audit log OK: 0 records, head " + "0" * 64 + "\n")
    code, out, _ = run("keys", "create", "--scope", "read", "--name", "shop", "--data-dir", data)
    key_id = out.split()[1]
    assert code == 0 and run("keys", "revoke", key_id, "--data-dir", data)[0] == 0
    code, out, _ = run("audit", "verify", "--data-dir", data)
    assert code == 0 and out.startswith("audit log OK: 2 records, head ")
    code, out, _ = run("audit", "list", "--data-dir", data)
    lines = [line.split("\t") for line in out.splitlines()]
    who, where = f"cli:{getpass.getuser()}", f"cli@{socket.gethostname()}"  # the OS user, the host
    assert [(f[0], f[2], f[3], f[4], f[5]) for f in lines] == [("2", who, where, "keys.revoke", key_id),
                                                                 ("1", who, where, "keys.create", key_id)]
    assert lines[1][6] == '{"name": "shop", "scopes": ["read"]}'
    assert run("audit", "list", "--action", "keys.revoke", "--data-dir", data)[1].count("\n") == 1

    conn = sqlite3.connect(Settings(data_dir=tmp_path / "data").db_path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("""UPDATE audit_log SET summary = '{"name":"shop","scopes":["admin"]}' WHERE seq = 1""")
    conn.commit()
    conn.close()
    code, out, err = run("audit", "verify", "--data-dir", data)
    assert code == 1 and out == "" and "BROKEN at record 1" in err and "changed" in err


def test_verify_with_the_head_catches_a_cut_tail(tmp_path):
    data = str(tmp_path / "data")
    run("keys", "create", "--scope", "read", "--data-dir", data)
    head = run("audit", "verify", "--data-dir", data)[1].split()[-1]
    assert run("audit", "verify", "--head", head, "--data-dir", data)[0] == 0
    run("keys", "create", "--scope", "read", "--data-dir", data)
    later = run("audit", "verify", "--data-dir", data)[1].split()[-1]
    code, _, err = run("audit", "verify", "--head", later[::-1], "--data-dir", data)
    assert code == 1 and "removed from the end" in err
