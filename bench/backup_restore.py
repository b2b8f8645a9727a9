"""Backup/restore time and size of an embedded data dir, and a kill -9 recovery drill.

    .venv/bin/python bench/backup_restore.py --events 500000

1. Generate and import a data set (``tastemaker generate`` / ``import``), train once.
2. ``tastemaker backup`` to a directory and to a .tar, ``tastemaker restore`` each: seconds, bytes.
3. Drill: a server ingests one acknowledged event per request from a client thread; the
   server's process group is killed with SIGKILL; it is restarted on the same data dir:
   every acknowledged id is counted in the log (RPO), and the time from the restart to the
   first 200 of /readyz is the RTO.
Prints the figures and writes bench/results/backup_restore-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import free_port  # noqa: E402

TM = str(Path(sys.executable).parent / "tastemaker")
KEY = "bench-admin-key-0123456789"


def tm(*args: str) -> float:
    env = {**os.environ, "TASTEMAKER_NO_PROGRESS": "1"}
    started = time.perf_counter()
    subprocess.run([TM, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def start(data: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {**os.environ, "TASTEMAKER_ADMIN_KEY": KEY, "TASTEMAKER_NO_PROGRESS": "1"}
    env.pop("TASTEMAKER_DURABLE", None)  # durable commits, as in production
    started = time.perf_counter()
    proc = subprocess.Popen([TM, "serve", "--data-dir", str(data), "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)


def drill(data: Path, root: Path) -> dict:
    proc, url, _ = start(data, root / "server.log")
    acked: list[str] = []
    stop = threading.Event()

    def ingest() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as c:
            n = 0
            while not stop.is_set():
                try:
                    r = c.post("/v1/events", json={"id": f"drill-{n}", "type": "view", "user_id": f"d{n % 97}",
                                                   "item_id": "1"})
                except httpx.HTTPError:
                    return  # the server died mid-request: that event was never acknowledged
                if r.status_code == 200:
                    acked.append(f"drill-{n}")
                n += 1

    thread = threading.Thread(target=ingest)
    thread.start()
    while len(acked) < 2000:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    thread.join()
    proc, url, rto = start(data, root / "server-restart.log")
    conn = sqlite3.connect(data / "tastemaker.db")
    present = {r[0] for r in conn.execute("SELECT id FROM events WHERE id LIKE 'drill-%'")}
    conn.close()
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait()
    return {"acked": len(acked), "lost": len(set(acked) - present), "rto_s": round(rto, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=20_000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tm-backup-bench-"))
    data = root / "data"
    tm("generate", "--users", str(args.users), "--items", str(args.items), "--events", str(args.events),
       "--seed", "7", "--out", str(root / "files"))
    for kind in ("items", "users", "events"):
        tm("import", kind, str(root / "files" / f"{kind}.parquet"), "--data-dir", str(data))
    tm("train", "--data-dir", str(data))
    figures: dict = {"events": args.events, "data_dir_bytes": size_of(data)}
    for name in ("backup-dir", "backup.tar"):
        figures[f"{name} backup_s"] = round(tm("backup", str(root / name), "--data-dir", str(data)), 2)
        figures[f"{name} bytes"] = size_of(root / name)
        figures[f"{name} restore_s"] = round(tm("restore", str(root / name), "--data-dir", str(root / f"r-{name}")), 2)
    figures["drill"] = drill(data, root)
    print(json.dumps(figures, indent=2))
    out = Path(__file__).parent / "results" / f"backup_restore-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
