"""Recovery drill of the distributed deployment (issue 17): RTO and RPO against their targets.

    .venv/bin/python bench/recovery_drill.py --events 100000 --workers 2

Services: PostgreSQL, NATS JetStream and Redis as configured for the tests (127.0.0.1). The
drill owns a PostgreSQL schema, a stream and subjects of its own (``drill_<tag>``) and one
Redis database number (``--redis-db``, 13; FLUSHDB empties only that one); nats-server is
shared with other users of the machine, so "NATS lost" is the drill's own stream deleted,
not the server restarted.

1. Seed: ``--workers`` ``tastemaker serve`` workers (separate data dirs, sharing only the
   three services); a catalogue and ``--events`` events through ``POST /v1/events``; one train
   job (``--family``), promoted; a client then posts one acknowledged event at a time
   round-robin to the workers for the rest of the drill (the ids acked are recorded).
2. Drill A, workers and Redis lost: every worker's process group SIGKILLed, Redis FLUSHDB.
   New workers on fresh data dirs (new machines) start from the latest state snapshot in
   PostgreSQL plus the stream. RTO = loss to the last worker's first 200 of /readyz and of
   GET /v1/recommendations; RPO = acked ids absent from the stream.
3. Drill B, total loss: ``tastemaker backup`` (online, while the client ingests), ingest goes
   on ``--after-backup-s`` seconds, then workers killed, Redis flushed, the stream deleted and
   the PostgreSQL schema dropped. ``tastemaker restore`` onto the empty services, new workers.
   RTO as above; RPO = acked ids absent, and in seconds the time from the backup's stream cut
   to the loss (what a backup schedule of that period loses at worst).

Targets (the seed's): RTO <= 300 s, RPO <= 60 s; every figure is given as a ratio to them.
Writes bench/results/recovery_drill-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    dump_json,
    free_port,
    hardware_info,
    tastemaker_cmd,
    train_over_http,
)

KEY = "bench-drill-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
POSTGRES = os.environ.get("TASTEMAKER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TASTEMAKER_BENCH_REDIS", "redis://127.0.0.1:6379")
NATS = os.environ.get("TASTEMAKER_BENCH_NATS_URL", "nats://127.0.0.1:4222")
RTO_TARGET_S, RPO_TARGET_S = 300.0, 60.0
N_ITEMS, N_USERS = 2_000, 10_000


class Worker:
    """One ``tastemaker serve`` process in a session of its own (its group is what a kill takes)."""

    def __init__(self, env: dict[str, str], data_dir: Path):
        self.env, self.data_dir, self.port = env, data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.proc = subprocess.Popen([*tastemaker_cmd(), "serve", "--data-dir", str(self.data_dir), "--port",
                                      str(self.port), "--log-level", "warning"], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def serving(self, deadline: float) -> float:
        """Wait until /readyz and a recommendation answer 200; returns the monotonic time it did."""
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=5) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"worker exited {self.proc.returncode}: see {self.log.name}")
                try:
                    if c.get("/readyz").status_code == 200 and \
                            c.get("/v1/recommendations", params={"user_id": "u1"}).status_code == 200:
                        return time.monotonic()
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise SystemExit(f"{self.url} not serving before the deadline")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started: the server and its training child
        self.proc.wait()
        self.log.close()


class Ingest:
    """One acknowledged event at a time, round-robin over the workers' URLs; records acked ids."""

    def __init__(self, urls: list[str]):
        self.urls, self.acked, self.n = urls, {}, 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        clients = [httpx.Client(base_url=u, headers=AUTH, timeout=10) for u in self.urls]
        while not self.stop_flag.is_set():
            event_id = f"live-{self.n}"
            body = {"id": event_id, "type": "view", "user_id": f"u{self.n % N_USERS}", "item_id": f"i{self.n % N_ITEMS}"}
            try:
                r = clients[self.n % len(clients)].post("/v1/events", json=body)
                if r.status_code == 200:
                    self.acked[event_id] = time.monotonic()
            except httpx.HTTPError:
                pass  # a worker killed mid-request: never acknowledged
            self.n += 1
        for c in clients:
            c.close()

    def stop(self) -> None:
        self.stop_flag.set()
        self.thread.join()


def environment(tag: str, redis_db: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    sep = "&" if "?" in POSTGRES else "?"
    return {**base, "TASTEMAKER_ADMIN_KEY": KEY, "TASTEMAKER_NO_PROGRESS": "1", "TASTEMAKER_RATE_LIMITS": "off",
            "TASTEMAKER_BACKEND": "distributed", "TASTEMAKER_NATS_URL": NATS, "TASTEMAKER_POSTGRES_URL": f"{POSTGRES}{sep}schema={tag}",
            "TASTEMAKER_NATS_STREAM": tag.upper(), "TASTEMAKER_NATS_SUBJECT_PREFIX": f"bench.{tag}",
            "TASTEMAKER_REDIS_URL": f"{REDIS}/{redis_db}", "TASTEMAKER_REDIS_PREFIX": f"{tag}:"}


def start_workers(env: dict[str, str], root: Path, label: str, n: int, data_dirs: list[Path] | None = None):
    workers = [Worker(env, (data_dirs or [])[k] if data_dirs and k < len(data_dirs) else root / f"{label}-w{k}")
               for k in range(n)]
    for w in workers:
        w.start()
    return workers


def seed(url: str, events: int) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=300) as c:
        c.post("/v1/items", json=[{"id": f"i{k}", "title": f"Item {k}", "stock": 5} for k in range(N_ITEMS)]).raise_for_status()
        for start in range(0, events, 2000):
            batch = [{"id": f"seed-{n}", "type": "view", "user_id": f"u{n % N_USERS}",
                      "item_id": f"i{(n * 7919 + n // N_USERS) % N_ITEMS}"} for n in range(start, min(events, start + 2000))]
            c.post("/v1/events", json=batch).raise_for_status()


def stream_ids(env: dict[str, str]) -> set[str]:
    """Every event id in the drill's stream now."""
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    log = NatsEventLog(NATS, StreamSpec(name=env["TASTEMAKER_NATS_STREAM"], subject_prefix=env["TASTEMAKER_NATS_SUBJECT_PREFIX"]))
    ids: set[str] = set()
    try:
        after = 0
        while rows := log.read_since(after, limit=50_000):
            ids.update(e.id for _, e in rows)
            after = rows[-1][0]
    finally:
        log.close()
    return ids


def lose(workers: list[Worker], env: dict[str, str], redis_db: int, total: bool) -> float:
    """Kill every worker, flush the drill's Redis db; ``total``: also delete the stream and drop the schema."""
    import redis

    t = time.monotonic()
    for w in workers:
        w.kill()
    redis.Redis.from_url(env["TASTEMAKER_REDIS_URL"]).flushdb()
    if total:
        drop_services(env)
    return t


def drop_services(env: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec
    from tastemaker.storage.postgres.database import split_schema

    log = NatsEventLog(NATS, StreamSpec(name=env["TASTEMAKER_NATS_STREAM"],
                                        subject_prefix=env["TASTEMAKER_NATS_SUBJECT_PREFIX"]))
    log.delete_stream()
    log.close()
    conninfo, schema = split_schema(env["TASTEMAKER_POSTGRES_URL"])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def recover(workers: list[Worker], loss: float) -> dict:
    deadline = loss + 1800
    ready = max(w.serving(deadline) for w in workers)
    rto = ready - loss
    return {"rto_s": round(rto, 2), "rto_vs_target": round(rto / RTO_TARGET_S, 4)}


def backup_phases(backup: Path) -> dict:
    """What the backup says about itself: seconds per phase, the stream's messages and cut."""
    import tarfile

    with tarfile.open(backup) as tar:
        description = json.load(tar.extractfile("distributed.json"))
    stream = description["stream"]
    return {"phases_s": description["seconds"], "stream_messages": stream["messages"], "stream_cut": stream["last_seq"],
            "postgres_consistent_with": description["postgres_consistent_with"],
            "postgres_rows": sum(t["rows"] for t in description["postgres"]["tables"])}


def cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.monotonic()
    out = subprocess.run([*tastemaker_cmd(), *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"tastemaker {' '.join(args)} failed: {out.stderr[-2000:]}")
    return time.monotonic() - started, out.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--family", default="hybrid")
    ap.add_argument("--after-backup-s", type=float, default=20.0, help="ingest between the backup and the loss")
    ap.add_argument("--redis-db", type=int, default=13, help="a Redis db number the drill may FLUSHDB")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    tag = f"drill_{uuid.uuid4().hex[:10]}"
    root = Path(tempfile.mkdtemp(prefix="tm-drill-"))
    env = environment(tag, args.redis_db)
    figures: dict = {"events": args.events, "workers": args.workers, "family": args.family, "tag": tag,
                     "hardware": hardware_info(), "note": "shared 2-core box, other agents' jobs running"}
    try:
        workers = start_workers(env, root, "seed", args.workers)
        for w in workers:
            w.serving(time.monotonic() + 600)
        started = time.monotonic()
        seed(workers[0].url, args.events)
        figures["seed_s"] = round(time.monotonic() - started, 1)
        with httpx.Client(base_url=workers[0].url, headers=AUTH, timeout=60) as c:
            job = train_over_http(c, {"family": args.family, "promote": "always"})
        figures["train_s"] = job.get("result", {}).get("seconds")
        ingest = Ingest([w.url for w in workers])
        time.sleep(5)

        # A: workers and Redis lost; PostgreSQL and the stream are there
        loss = lose(workers, env, args.redis_db, total=False)
        acked = dict(ingest.acked)
        ingest.stop()
        workers = start_workers(env, root, "a", args.workers)
        figures["drill_a"] = recover(workers, loss)
        lost = set(acked) - stream_ids(env)
        figures["drill_a"].update(acked=len(acked), lost=len(lost))
        print(json.dumps(figures["drill_a"]), flush=True)

        # B: total loss, restored from a backup taken online
        ingest = Ingest([w.url for w in workers])
        time.sleep(5)
        backup = root / "backup.tar"
        backup_s, said = cli(env, "backup", str(backup), "--data-dir", str(workers[0].data_dir))
        cut = time.monotonic()  # the stream was read up to its last sequence just before this
        figures["backup"] = {"seconds": round(backup_s, 2), "bytes": backup.stat().st_size, "said": said,
                             "seconds_vs_rpo_target": round(backup_s / RPO_TARGET_S, 4), **backup_phases(backup)}
        time.sleep(args.after_backup_s)
        acked_before = dict(ingest.acked)
        loss = lose(workers, env, args.redis_db, total=True)
        ingest.stop()
        acked = {**acked_before, **ingest.acked}
        restored_dir = root / "b-w0"
        restore_s, said = cli(env, "restore", str(backup), "--data-dir", str(restored_dir))
        workers = start_workers(env, root, "b", args.workers, [restored_dir])
        figures["drill_b"] = recover(workers, loss)
        present = stream_ids(env)
        lost = set(acked) - present
        acked_in_backup = [t for i, t in acked.items() if i in present]
        window = loss - max(acked_in_backup) if acked_in_backup else float("nan")
        figures["drill_b"].update(restore_s=round(restore_s, 2), acked=len(acked), lost=len(lost),
                                  rpo_s=round(window, 2), rpo_vs_target=round(window / RPO_TARGET_S, 4),
                                  lost_acked_after_backup_only=all(acked[i] >= cut - backup_s for i in lost))
        for w in workers:
            w.kill()
    finally:
        try:
            drop_services(env)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the figures
            print(f"cleanup: {exc}", file=sys.stderr)
    print(json.dumps(figures, indent=2))
    dump_json(figures, args.json or Path(__file__).parent / "results" / f"recovery_drill-{time.strftime('%Y%m%d-%H%M%S')}.json")


if __name__ == "__main__":
    main()
