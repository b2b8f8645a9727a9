"""End to end: the real ``tastemaker serve`` process, over HTTP.

Covers ingest and recommendations over the wire, a graceful restart (SIGTERM: snapshot),
a crash (SIGKILL: every acknowledged event survives), and two processes on one data dir.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

TASTEMAKER = Path(sys.executable).parent / "tastemaker"
ADMIN_KEY = "e2e-admin-key-abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
N_ITEMS = 30
USERS = [f"user{u}" for u in range(8)]
# uvicorn shuts down cleanly on SIGTERM, then re-raises the signal it caught
GRACEFUL = (0, -signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``tastemaker serve`` process group; always killed in teardown."""

    def __init__(self, data_dir: Path, log_dir: Path, workers: int = 1):
        self.data_dir, self.log_dir, self.workers = data_dir, log_dir, workers
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> "Server":
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts += 1
        self.log = self.log_dir / f"server-{self.port}-{self.starts}.log"
        env = {**os.environ, "TASTEMAKER_ADMIN_KEY": ADMIN_KEY, "TASTEMAKER_NO_PROGRESS": "1"}
        env.pop("TASTEMAKER_DATA_DIR", None)
        env.pop("TASTEMAKER_DURABLE", None)  # durable, as in production
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(TASTEMAKER), "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
                 "--workers", str(self.workers), "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready in {timeout}s:\n{self.log.read_text()}")

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=30, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if sig == signal.SIGKILL:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the whole group: workers too
        else:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def servers(tmp_path):
    started: list[Server] = []

    def make(data_dir: Path | None = None, workers: int = 1) -> Server:
        server = Server(data_dir or tmp_path / "data", tmp_path, workers)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


def seed(c: httpx.Client) -> int:
    """A catalog of item pairs co-viewed by a few users; returns the events acknowledged."""
    items = [{"id": f"i{k:02d}", "title": f"Item {k}", "categories": [f"c{k % 3}"], "brand": f"b{k % 2}", "stock": 5}
             for k in range(N_ITEMS)]
    r = c.post("/v1/items", json=items)
    assert r.status_code == 200, r.text
    events = [{"id": f"seed-{p}-{j}-{k}", "type": "view", "user_id": f"seed-{p}-{j}", "item_id": f"i{k:02d}"}
              for p in range(N_ITEMS // 2) for j in range(2) for k in (2 * p, 2 * p + 1)]
    r = c.post("/v1/events", json=events)
    assert r.status_code == 200 and r.json() == {"accepted": len(events), "duplicates": 0}, r.text
    return len(events)


def activity(c: httpx.Client, acked: int) -> int:
    """Give USERS some history, one acknowledged request at a time; returns the new ack count."""
    for n, user in enumerate(USERS):
        for step, (kind, k) in enumerate([("view", 2 * n), ("click", 2 * n + 9), ("purchase", 2 * n + 1)]):
            r = c.post("/v1/events", json={"id": f"act-{user}-{step}", "type": kind, "user_id": user, "item_id": f"i{k % N_ITEMS:02d}"})
            assert r.status_code == 200 and r.json()["accepted"] == 1
            acked += 1
    return acked


def snapshot_of(c: httpx.Client) -> dict:
    """What must survive a restart: counts, profiles and recommendation lists."""
    time.sleep(1.1)  # global top lists are cached for a second: compare settled answers
    ready = c.get("/readyz").json()
    recs, counts = {}, {}
    for user in USERS + ["cold-user"]:
        r = c.get("/v1/recommendations", params={"user_id": user, "n": 8})
        assert r.status_code == 200, r.text
        recs[user] = [(e["id"], e["source"]) for e in r.json()["items"]]
        if user in USERS:
            counts[user] = c.get(f"/v1/users/{user}").json()["activity"]["event_count"]
    return {"log_seq": ready["log_seq"], "applied_seq": ready["applied_seq"], "items": ready["items"],
            "recs": recs, "event_counts": counts}


def test_serve_ingest_and_recommend_over_http(servers):
    server = servers().start()
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        acked = seed(c)
        assert c.get("/readyz").json()["log_seq"] == acked
        # auth over the wire
        assert httpx.get(server.url + "/v1/recommendations?user_id=x").status_code == 401
        # freshness over the wire: every view is reflected by the very next request
        misses = []
        for p in range(N_ITEMS // 2):
            user = f"fresh-{p}"
            r = c.post("/v1/events", json={"id": f"f-{p}", "type": "view", "user_id": user, "item_id": f"i{2 * p:02d}"})
            assert r.json() == {"accepted": 1, "duplicates": 0}
            body = c.get("/v1/recommendations", params={"user_id": user, "n": 3}).json()
            if (body["items"][0]["id"], body["items"][0]["source"]) != (f"i{2 * p + 1:02d}", "covisitation"):
                misses.append(body)
            c.post("/v1/events", json={"id": f"f-{p}-buy", "type": "purchase", "user_id": user, "item_id": f"i{2 * p + 1:02d}"})
            ids = [e["id"] for e in c.get("/v1/recommendations", params={"user_id": user, "n": 50}).json()["items"]]
            if f"i{2 * p + 1:02d}" in ids:
                misses.append((user, "purchased item still recommended"))
        assert misses == []
        body = c.get("/v1/items/i04/similar", params={"n": 3}).json()
        assert body["items"][0]["id"] == "i05"
        assert c.get("/openapi.json").json()["openapi"].startswith("3.1")
        assert "tastemaker_events_total" in c.get("/metrics").text
    assert server.stop(signal.SIGTERM) in GRACEFUL


def test_graceful_restart_keeps_state_and_answers(servers):
    server = servers().start()
    with server.client() as c:
        acked = activity(c, seed(c))
        before = snapshot_of(c)
    assert before["log_seq"] == before["applied_seq"] == acked
    assert server.stop(signal.SIGTERM) in GRACEFUL
    assert (server.data_dir / "state.snapshot").exists()  # written on the way down

    server.start()
    with server.client() as c:
        after = snapshot_of(c)
    assert after == before
    # purchased items stay filtered after the restart
    for n, user in enumerate(USERS):
        assert f"i{2 * n + 1:02d}" not in [i for i, _ in after["recs"][user]]


def test_sigkill_loses_no_acknowledged_event(servers):
    server = servers().start()
    with server.client() as c:
        acked = activity(c, seed(c))
    assert server.stop(signal.SIGTERM) in GRACEFUL  # a snapshot exists from here on ...

    server.start()
    with server.client() as c:
        # ... and everything after it lives only in the log when the process dies
        for k in range(40):
            r = c.post("/v1/events", json={"id": f"late-{k}", "type": "view", "user_id": USERS[k % len(USERS)],
                                           "item_id": f"i{(k * 7) % N_ITEMS:02d}"})
            assert r.status_code == 200 and r.json()["accepted"] == 1
            acked += 1
        before = snapshot_of(c)
    assert before["log_seq"] == acked
    server.stop(signal.SIGKILL)

    server.start()
    with server.client() as c:
        after = snapshot_of(c)
    assert after["log_seq"] == after["applied_seq"] == acked
    assert after == before


def test_two_servers_on_one_data_dir_see_each_others_events(servers, tmp_path):
    a = servers(tmp_path / "shared").start()
    with a.client() as ca:
        seed(ca)
    b = servers(tmp_path / "shared").start()
    with a.client() as ca, b.client() as cb:
        for p in range(N_ITEMS // 2):
            user = f"two-{p}"
            writer, reader = (ca, cb) if p % 2 else (cb, ca)
            r = writer.post("/v1/events", json={"id": f"two-{p}", "type": "view", "user_id": user, "item_id": f"i{2 * p:02d}"})
            assert r.json()["accepted"] == 1
            items = reader.get("/v1/recommendations", params={"user_id": user, "n": 3}).json()["items"]
            assert (items[0]["id"], items[0]["source"]) == (f"i{2 * p + 1:02d}", "covisitation"), (p, items)
            assert reader.get(f"/v1/users/{user}").json()["activity"]["event_count"] == 1
            # an item change through one server is seen by the other too
            writer.patch(f"/v1/items/i{2 * p + 1:02d}", json={"stock": 0})
            ids = [e["id"] for e in reader.get("/v1/recommendations", params={"user_id": user, "n": 50}).json()["items"]]
            assert f"i{2 * p + 1:02d}" not in ids
        assert ca.get("/readyz").json()["log_seq"] == cb.get("/readyz").json()["log_seq"]


def test_two_workers_serve_fresh_answers(servers):
    server = servers(workers=2).start()
    # no keep-alive: every request is a new connection, so both workers answer
    with server.client(limits=httpx.Limits(max_keepalive_connections=0)) as c:
        seed(c)
        misses = []
        for p in range(N_ITEMS // 2):
            user = f"w-{p}"
            assert c.post("/v1/events", json={"id": f"w-{p}", "type": "view", "user_id": user,
                                              "item_id": f"i{2 * p:02d}"}).json()["accepted"] == 1
            items = c.get("/v1/recommendations", params={"user_id": user, "n": 3}).json()["items"]
            if (items[0]["id"], items[0]["source"]) != (f"i{2 * p + 1:02d}", "covisitation"):
                misses.append((p, items))
        assert misses == []
    assert server.stop(signal.SIGTERM) in GRACEFUL
