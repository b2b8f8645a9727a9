"""Several API workers of the distributed deployment, as real ``tastemaker serve`` processes that
share nothing but PostgreSQL, NATS JetStream and Redis (a data dir each, no shared files).

Each test has a PostgreSQL schema, a JetStream stream (and subjects) and a Redis key prefix of
its own, so tests never see each other's data. They skip, saying which, only when a service
cannot be reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.storage.postgres_service import POSTGRES_URL, require_postgres
from tests.storage.services import NATS_URL, REDIS_URL, delete_stream, require
from tests.test_end_to_end import free_port

pytestmark = pytest.mark.slow

TASTEMAKER = Path(sys.executable).parent / "tastemaker"
ADMIN_KEY = "distributed-admin-key-abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
N_ITEMS = 20


class Worker:
    """One ``tastemaker serve`` process on its own data dir; killed in teardown."""

    def __init__(self, env: dict[str, str], data_dir: Path):
        self.env, self.data_dir = env, data_dir
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> Worker:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(TASTEMAKER), "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
                 "--log-level", "warning"], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.log.read_text()}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=30)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture
def workers(tmp_path):
    """``make(name)``: a worker of this test's own deployment (schema, stream, Redis prefix)."""
    require_postgres()
    require(NATS_URL, "NATS JetStream")
    require(REDIS_URL, "Redis")
    tag = f"test_{uuid.uuid4().hex}"
    sep = "&" if "?" in POSTGRES_URL else "?"
    env = {**os.environ, "TASTEMAKER_BACKEND": "distributed", "TASTEMAKER_POSTGRES_URL": f"{POSTGRES_URL}{sep}schema={tag}",
           "TASTEMAKER_NATS_URL": NATS_URL, "TASTEMAKER_NATS_STREAM": tag.upper(),
           "TASTEMAKER_NATS_SUBJECT_PREFIX": f"test.{tag}", "TASTEMAKER_REDIS_URL": REDIS_URL,
           "TASTEMAKER_REDIS_PREFIX": f"{tag}:", "TASTEMAKER_ADMIN_KEY": ADMIN_KEY, "TASTEMAKER_NO_PROGRESS": "1"}
    for name in ("TASTEMAKER_DATA_DIR", "TASTEMAKER_DURABLE"):
        env.pop(name, None)
    started: list[Worker] = []

    def make(name: str) -> Worker:
        worker = Worker(env, tmp_path / name)
        started.append(worker)
        return worker

    make.schema = tag  # type: ignore[attr-defined]
    yield make
    for worker in started:
        worker.kill()
    import psycopg
    from psycopg import sql

    delete_stream(tag.upper(), f"test.{tag}")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(tag)))


def seed(c: httpx.Client) -> int:
    """Items in pairs, each pair co-viewed by two users; returns the log position of the seed."""
    r = c.post("/v1/items", json=[{"id": f"i{k:02d}", "title": f"Item {k}", "stock": 5} for k in range(N_ITEMS)])
    assert r.status_code == 200, r.text
    events = [{"id": f"seed-{p}-{j}-{k}", "type": "view", "user_id": f"seed-{p}-{j}", "item_id": f"i{k:02d}"}
              for p in range(N_ITEMS // 2) for j in range(2) for k in (2 * p, 2 * p + 1)]
    r = c.post("/v1/events", json=events)
    assert r.status_code == 200 and r.json() == {"accepted": len(events), "duplicates": 0}, r.text
    return int(r.headers["X-Tastemaker-Position"])


def test_a_write_acked_by_one_worker_is_read_by_the_next_request_on_another(workers):
    a, b = workers("w1").start(), workers("w2").start()
    assert not (a.data_dir / "tastemaker.db").exists()  # nothing on disk is shared, nor even kept
    with a.client() as ca, b.client() as cb:
        position = seed(ca)
        for p in range(N_ITEMS // 2):
            user = f"ryw-{p}"
            writer, reader = (ca, cb) if p % 2 else (cb, ca)
            r = writer.post("/v1/events", json={"id": f"ryw-{p}", "type": "view", "user_id": user, "item_id": f"i{2 * p:02d}"})
            assert r.json() == {"accepted": 1, "duplicates": 0}
            token = int(r.headers["X-Tastemaker-Position"])
            assert token > position  # positions grow across workers: one log
            position = token
            after = {"X-Tastemaker-After": str(token)}
            items = reader.get("/v1/recommendations", params={"user_id": user, "n": 3}, headers=after).json()["items"]
            assert (items[0]["id"], items[0]["source"]) == (f"i{2 * p + 1:02d}", "covisitation"), (p, items)
            assert reader.get(f"/v1/users/{user}", headers=after).json()["activity"]["event_count"] == 1
        # without a token the other worker follows on its own: both reach the same position
        deadline = time.monotonic() + 30
        while {ca.get("/readyz").json()["applied_seq"], cb.get("/readyz").json()["applied_seq"]} != {position}:
            assert time.monotonic() < deadline, "a worker did not follow the log to its end"
            time.sleep(0.01)
        # a position beyond the log: a bounded wait, then 503 naming it; a malformed one: 400
        r = cb.get("/v1/recommendations", params={"user_id": "ryw-0"}, headers={"X-Tastemaker-After": str(position + 1000)})
        assert r.status_code == 503 and str(position + 1000) in r.json()["detail"] and r.headers["Retry-After"] == "1"
        r = cb.get("/v1/recommendations", params={"user_id": "ryw-0"}, headers={"X-Tastemaker-After": "soon"})
        assert r.status_code == 400 and r.json()["field"] == "X-Tastemaker-After"


def test_killing_a_worker_during_ingest_loses_no_acknowledged_event(workers):
    a, b = workers("w1").start(), workers("w2").start()
    with a.client() as ca:
        seed(ca)
    acked: list[tuple[str, int]] = []  # (user, position) of every event worker 1 acknowledged
    killed = threading.Event()

    def ingest() -> None:
        with a.client() as c:
            k = 0
            while True:
                batch = [{"id": f"kill-{k + j}", "type": "view", "user_id": f"kill-{k + j}",
                          "item_id": f"i{(k + j) % N_ITEMS:02d}"} for j in range(5)]
                try:
                    r = c.post("/v1/events", json=batch)
                except httpx.HTTPError:
                    assert killed.is_set()
                    return
                assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
                acked.extend((e["user_id"], int(r.headers["X-Tastemaker-Position"])) for e in batch)
                k += 5

    writer = threading.Thread(target=ingest)
    writer.start()
    while len(acked) < 300:  # kill it mid-stream, with requests in flight
        time.sleep(0.01)
    killed.set()
    a.kill(signal.SIGKILL)
    writer.join(60)
    assert not writer.is_alive()
    last = max(position for _, position in acked)
    with b.client() as cb:
        after = {"X-Tastemaker-After": str(last)}
        lost = [u for u, _ in acked if cb.get(f"/v1/users/{u}", headers=after).json()["activity"]["event_count"] != 1]
    assert lost == [] and len(acked) >= 300
    # a new worker starts from the latest snapshot (written by worker 2 on its way down) plus
    # the stream, and serves every acknowledged event
    b.kill(signal.SIGTERM)
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_URL) as conn:  # worker 2's snapshot, in PostgreSQL
        assert conn.execute(sql.SQL("SELECT size FROM {}.artifacts WHERE key = 'state.snapshot'").format(
            sql.Identifier(workers.schema))).fetchone()[0] > 0
    c3 = workers("w3").start()
    with c3.client() as c:
        ready = c.get("/readyz").json()
        assert ready["applied_seq"] == ready["log_seq"] >= last
        counts = [c.get(f"/v1/users/{u}").json()["activity"]["event_count"] for u, _ in acked[::25]]
    assert counts == [1] * len(acked[::25])
