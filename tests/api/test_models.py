"""``/v1/models/train``: bad requests are 422s naming what is wrong; a poisoned log still trains;
the training pool leaves nothing behind when the server is stopped."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tastemaker.api.models import check_family_params
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Event

from .helpers import assert_problem, seed


def test_unknown_training_parameter_is_422_naming_it_and_the_known_ones(client):
    r = client.post("/v1/models/train", json={"family": "popularity", "params": {"bogus": 1}})
    body = assert_problem(r, 422, "/params/bogus")
    assert body["errors"][0]["reason"] == "unknown parameter of family 'popularity'; known: weighted"
    assert client.get("/v1/models").json()["versions"] == []


def test_every_bad_parameter_is_listed(client):
    r = client.post("/v1/models/train", json={"family": "als", "params": {"factors": "many", "nope": 1, "alpha": 2}})
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["/params/factors", "/params/nope"]
    assert body["errors"][0]["reason"] == "Expected `int`, got `str`"
    assert "regularization" in body["errors"][1]["reason"]


def test_unknown_family_is_422_listing_the_families(client):
    body = assert_problem(client.post("/v1/models/train", json={"family": "poplarity"}), 422, "/family")
    reason = body["errors"][0]["reason"]
    assert reason.startswith("unknown model family 'poplarity'; did you mean 'popularity'? known: ")
    assert "als" in reason and "hybrid" in reason


def test_params_are_converted_to_the_declared_types():
    assert check_family_params("session_ease", {"session_gaps": [0, 60]}) == {"session_gaps": (0.0, 60.0)}
    with pytest.raises(ValidationFailed):
        check_family_params("itemknn", {"k": True})  # a bool is not an int


def test_malformed_train_request_names_the_position(client):
    body = assert_problem(client.post("/v1/models/train", content=b'{"family": popularity}'), 400)
    assert "line 1, column" in body["detail"]


def test_a_log_with_an_extreme_rating_still_trains_and_reports_it(client):
    """1e308 in the log (written before values were validated) once failed every training run."""
    seed(client)
    engine = client.app.state.engine
    poisoned = [Event(id=f"old-{k}", type="rating", user_id=f"base-0-{k}", item_id="i05", value=v, timestamp=1.7e9)
                for k, v in enumerate([1e308, float("inf"), 9.0])]
    assert engine.stores.events.append(poisoned).accepted  # straight into the log, as old data would be
    r = client.post("/v1/models/train", json={"family": "als", "params": {"factors": 8, "iterations": 3},
                                               "promote": "always"})
    assert r.status_code == 201, r.text
    assert r.json()["out_of_range_values"] == 3
    assert r.json()["promoted"] is True
    recs = client.get("/v1/recommendations", params={"user_id": "base-0-0"})
    assert recs.status_code == 200 and recs.json()["items"]


def _resource_tracker_of(pid: int) -> int | None:
    """The pid of the multiprocessing resource tracker that ``pid`` started (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"resource_tracker" in cmdline:
            return int(entry.name)
    return None


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the resource tracker through /proc")
def test_sigterm_after_training_leaves_no_leaked_semaphores(tmp_path):
    """The issue saw "5 leaked semaphore objects" (the training pool's queues) after SIGTERM."""
    from tests.test_end_to_end import GRACEFUL, Server

    server = Server(tmp_path / "data", tmp_path)
    try:
        server.start()
        with server.client() as c:
            assert c.post("/v1/items", json=[{"id": f"i{k}"} for k in range(6)]).status_code == 200
            events = [{"id": f"e{k}", "type": "view", "user_id": f"u{k % 3}", "item_id": f"i{k % 6}"} for k in range(30)]
            assert c.post("/v1/events", json=events).status_code == 200
            # the training pool (a spawned worker and its queues) exists once a model was trained
            for family in ("popularity", "als"):
                r = c.post("/v1/models/train", json={"family": family, "promote": "always"}, timeout=300)
                assert r.status_code == 201, r.text
        tracker = _resource_tracker_of(server.proc.pid)
        assert tracker is not None
        assert server.stop(signal.SIGTERM) in GRACEFUL
        # The tracker reports leaks when it sees its server go, then exits: wait for that.
        deadline = time.monotonic() + 120  # a cap, not the expected time (well under a second)
        while _running(tracker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(tracker)
    finally:
        server.kill()
    log = server.log.read_text()
    assert "leaked semaphore" not in log, log
    assert "Traceback" not in log, log
