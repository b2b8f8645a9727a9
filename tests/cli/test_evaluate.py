"""``tastemaker evaluate`` (cli/evaluate.py): the model report with its progress bar, early
refusal of unknown families, the served figure per placement, and the per-placement list
metrics of a data dir."""

from __future__ import annotations

import json

from tastemaker import cli
from tests.api.helpers import seed
from tests.cli.helpers import run


def test_evaluate_shows_a_bar_with_its_total(data_dir, tmp_path):
    args = ("evaluate", "--dataset", "data-dir", "--families", "popularity,itemknn", "--protocol", "random",
            "--seeds", "0,1", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"), "--placement-users", "5",
            "--no-served")
    code, out, err = run(*args, progress=True)
    assert code == 0, err
    assert "evaluate: 100%" in err and "4/4" in err  # 2 families x 2 seeds x 1 protocol
    assert "report:" in out
    code, out, err = run(*args, "--quiet", progress=True)
    assert code == 0
    assert "evaluate:" not in err and "runs" not in err


def test_evaluate_reports_the_served_figure_per_placement(data_dir, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run("evaluate", "--dataset", "data-dir", "--families", "popularity", "--protocol", "random",
                            "--seeds", "0", "--data-dir", str(data_dir), "--out", str(out), "--placement-users", "5")
    assert code == 0, err
    assert "served nDCG@10 per placement" in stdout
    report = json.loads((out / "served.json").read_text())["0"]
    assert set(report["placements"]) == {"cart", "email", "home", "product-page"}
    table = stdout[stdout.index("served nDCG@10 per placement"):]
    home = next(line for line in table.splitlines() if line.startswith("home "))
    assert f"{report['placements']['home']['served']:.4f}" in home
    # the train job ran on a scratch registry: the data dir has no model version
    code, stdout, _ = run("models", "list", "--data-dir", str(data_dir))
    assert code == 0 and "serving" not in stdout


def test_evaluate_refuses_unknown_families_before_loading(tmp_path):
    code, _, err = run("evaluate", "--families", "popularity,nope", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "unknown family nope; known: als" in err
    assert not (tmp_path / "out").exists()


def test_evaluate_placements_only_command(client, settings, tmp_path, capsys):
    seed(client)
    client.post("/v1/events", json=[{"id": "e1", "type": "view", "user_id": "u", "item_id": "i01"}])
    client.app.state.engine.close()
    out = tmp_path / "reports"
    assert cli.main(["evaluate", "--placements-only", "--data-dir", str(settings.data_dir), "--out", str(out),
                     "--placement-users", "10"]) == 0
    assert "home" in capsys.readouterr().out
    assert set(json.loads((out / "placements.json").read_text())) == {"cart", "email", "home", "product-page"}
