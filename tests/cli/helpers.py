"""Running the real ``tastemaker`` command in tests."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

TASTEMAKER = Path(sys.executable).parent / "tastemaker"
N_USERS, N_ITEMS, N_EVENTS = 25, 60, 800


def run(*args: str, progress: bool = False, timeout: float = 300) -> tuple[int, str, str]:
    """``tastemaker ARGS`` as a real process: (exit code, stdout, stderr).

    Progress output is off unless ``progress`` (then it is on, whatever the environment says).
    The timeout only bounds a hung process; no test relies on it.
    """
    env = {**os.environ, "TASTEMAKER_DURABLE": "0"}
    env.pop("TASTEMAKER_ADMIN_KEY", None)
    env.pop("TASTEMAKER_DATA_DIR", None)
    if progress:
        env.pop("TASTEMAKER_NO_PROGRESS", None)
    else:
        env["TASTEMAKER_NO_PROGRESS"] = "1"
    proc = subprocess.run([str(TASTEMAKER), *args], capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def db_rows(data_dir: Path, table: str) -> int:
    conn = sqlite3.connect(data_dir / "tastemaker.db")
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
