"""``tastemaker evaluate --churn``: the table and churn.json, on synthetic data with known dropouts."""

from __future__ import annotations

import json

from tastemaker import cli


def test_churn_on_synthetic_data(tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli.main(["evaluate", "--churn", "--dataset", "synthetic", "--churn-users", "800", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bgnbd" in printed and "known truth" in printed
    report = json.loads((out / "churn.json").read_text())
    assert report["users"] > 500 and 0.5 < report["bgnbd"]["auc"] <= 1.0
    assert {"auc", "brier", "calibration"} <= set(report["bgnbd"]) and "truth" in report


def test_synthetic_without_churn_is_refused(tmp_path, capsys):
    assert cli.main(["evaluate", "--dataset", "synthetic", "--out", str(tmp_path)]) == 2
    assert "--churn only" in capsys.readouterr().err
