"""``tastemaker demo`` (demo.py): the demo dir is built once and reused; --fresh says what it replaces."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tastemaker import demo
from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.storage.factory import open_stores
from tastemaker.training.job import train
from tests.cli.helpers import TASTEMAKER, run


def built_demo_dir(path) -> str:
    """A demo dir as a finished first run leaves it (a small data set, a serving model); its key."""
    path.mkdir()
    settings = Settings(data_dir=path, durable=False)
    stores = open_stores(settings)
    try:
        load_dataset(stores, generate(30, 50, 600, seed=4))
        train(stores, "popularity", evaluate=False, promote="always")
    finally:
        stores.close()
    demo._write_marker(path, {"state": "ready", "dataset": "synthetic", "built_at": "2026-01-02 03:04:05"})
    return demo._admin_key(settings, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_when_listening(proc: subprocess.Popen, url: str, key: str) -> dict:
    """GET ``url`` once the server ``proc`` accepts connections (it listens a moment after printing)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError):
                raise
            assert proc.poll() is None, proc.stderr.read()  # refused while starting, never after exiting
            time.sleep(0.05)


def test_a_directory_that_is_not_a_demo_dir_is_never_deleted(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    with pytest.raises(SystemExit, match="is not a demo data dir"):
        demo._prepare(tmp_path, fresh=True, say=print)
    assert (tmp_path / "precious.txt").read_text() == "mine"


def test_an_unfinished_build_is_built_again(tmp_path):
    path = tmp_path / "demo"
    path.mkdir()
    demo._write_marker(path, {"state": "building", "dataset": "movielens"})
    (path / "leftover").write_text("half a build")
    said = []
    assert demo._prepare(path, fresh=False, say=said.append) is None
    assert said and said[0].startswith("the previous build did not finish: deleting")
    assert list(path.iterdir()) == []


def test_a_dir_of_an_older_demo_is_rebuilt(tmp_path):
    path = tmp_path / "demo"
    path.mkdir()
    (path / demo.MARKER).write_text("created by `tastemaker demo`; safe to delete\n")  # the old marker
    said = []
    assert demo._prepare(path, fresh=False, say=said.append) is None
    assert said[0].startswith(f"built by an older version of the demo: deleting {path}")


def test_a_ready_dir_is_reused_and_fresh_says_what_it_deletes(tmp_path):
    path = tmp_path / "demo"
    key = built_demo_dir(path)
    said = []
    marker = demo._prepare(path, fresh=False, say=said.append)
    assert marker["state"] == "ready" and marker["dataset"] == "synthetic" and said == []
    assert demo._admin_key(Settings(data_dir=path, admin_key=None), path) == key  # the same key every run
    assert demo._prepare(path, fresh=True, say=said.append) is None
    assert said == [f"--fresh: deleting {path} (600 events, 1 model version(s) and its admin key) and building it again"]
    assert list(path.iterdir()) == []


def test_a_second_run_reuses_key_events_and_model(tmp_path):
    path = tmp_path / "demo"
    key = built_demo_dir(path)
    port = free_port()
    env = {**os.environ, "TASTEMAKER_NO_PROGRESS": "1"}
    env.pop("TASTEMAKER_ADMIN_KEY", None)
    proc = subprocess.Popen([str(TASTEMAKER), "demo", "--data-dir", str(path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:  # until the demo has printed its key (it serves right after)
            lines.append(line)
            if line.startswith("API reference"):
                break
        out = "".join(lines)
        assert out.startswith(f"reusing the demo data dir {path} (built 2026-01-02 03:04:05): synthetic, "
                              "600 events in the log, model v1 serving, the same admin key.")
        assert f"admin key: {key}\n" in out
        assert "trained" not in out and "loaded" not in out
        assert f"API reference (open in a browser): http://127.0.0.1:{port}/docs" in out
        assert "open http" not in out
        user = out.split("user_id=")[1].split("&")[0]
        profile = get_when_listening(proc, f"http://127.0.0.1:{port}/v1/users/{user}", key)
        assert profile["activity"]["event_count"] > 0  # the events of the first run are still there
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    stores = open_stores(Settings(data_dir=path, durable=False))
    try:
        assert [v.version for v in stores.models.list()] == [1]  # no retraining: a model was serving
    finally:
        stores.close()


def test_asking_for_another_dataset_than_the_dir_holds_is_refused(tmp_path):
    path = tmp_path / "demo"
    built_demo_dir(path)
    code, _, err = run("demo", "--data-dir", str(path), "--dataset", "movielens", "--port", str(free_port()))
    assert code == 2
    assert f"{path} holds the synthetic demo; pass --fresh to replace it with movielens" in err
