"""``tastemaker experiments report``: the results document of an experiment in a data dir, as
JSON on stdout and an HTML report; unknown ids and bad options exit non-zero, saying why."""

from __future__ import annotations

import json

from tastemaker.config import Settings
from tastemaker.experiments.results import experiment_results, load_experiment
from tastemaker.storage.factory import open_stores
from tests.cli.helpers import run
from tests.experiments.test_results import START, define, serve


def test_report_prints_the_results_and_writes_html(tmp_path):
    data = tmp_path / "data"
    with open_stores(Settings(data_dir=data, durable=False)) as stores:
        define(stores)
        serve(stores, users=100, lists=3)
        stopped = load_experiment(stores, "exp").to_json() | {"stop": START + 5_000, "status": "stopped"}
        stores.experiments.update("exp", stopped, expected_version=1)
        expected = experiment_results(stores, load_experiment(stores, "exp"))
    out = tmp_path / "report.html"
    code, stdout, stderr = run("experiments", "report", "exp", "--data-dir", str(data), "--html", str(out))
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["end"] == START + 5_000  # bounded by the experiment's stop
    assert doc["metrics"] == expected["metrics"] and doc["verdict"] == expected["verdict"]
    assert out.read_text().startswith("<!DOCTYPE html>") and "report written to" in stderr


def test_unknown_experiment_and_bad_window(tmp_path):
    code, stdout, stderr = run("experiments", "report", "nope", "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "no experiment 'nope'" in stderr and stdout == ""
    code, _, stderr = run("experiments", "report", "x", "--window", "-1", "--data-dir", str(tmp_path / "data"))
    assert code == 2 and "--window" in stderr and "positive number of seconds" in stderr


def test_the_defaults_the_help_states_are_the_library_s():
    from tastemaker.experiments.attribution import DEFAULT_PRE_PERIOD_S, DEFAULT_WINDOW_S

    code, stdout, _ = run("experiments", "report", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    assert f"(default: {DEFAULT_WINDOW_S:.0f}, a day)" in text and f"(default: {DEFAULT_PRE_PERIOD_S:.0f}, 14 days)" in text
