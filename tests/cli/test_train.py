"""``tastemaker train`` and ``evaluate`` (cli/train.py, cli/progress.py): early refusal, stages, bars, --quiet."""

from __future__ import annotations

import re

import pytest

from tastemaker.config import Settings
from tastemaker.models.families import FAMILIES
from tastemaker.storage.factory import open_stores
from tastemaker.training import job
from tests.cli.helpers import N_EVENTS, run


@pytest.fixture
def data_dir(tmp_path, dataset):
    """A data dir holding the small generated data set."""
    paths = dataset.write(tmp_path / "files", "parquet")
    data = tmp_path / "data"
    for kind in ("items", "users", "events"):
        code, _, err = run("import", kind, str(paths[kind]), "--data-dir", str(data))
        assert code == 0, err
    return data


def test_unknown_family_is_refused_before_anything_is_opened(tmp_path):
    data = tmp_path / "data"
    code, out, err = run("train", "--family", "nope", "--data-dir", str(data))
    assert code == 2
    assert "invalid choice: 'nope'" in err
    for name in FAMILIES:
        assert f"'{name}'" in err
    assert not data.exists()  # no store opened, so no snapshot of the log was taken
    assert out == ""


def test_the_train_job_refuses_an_unknown_family_before_reading_the_log(tmp_path, monkeypatch):
    snapshots = []
    monkeypatch.setattr(job, "snapshot_events", lambda log: snapshots.append(log))
    settings = Settings(data_dir=tmp_path / "data", durable=False)
    stores = open_stores(settings)
    try:
        with pytest.raises(ValueError, match="unknown model family 'nope'; known: als, bpr"):
            job.train(stores, "nope")
    finally:
        stores.close()
    assert snapshots == []


def test_bad_params_are_refused_before_anything_is_opened(tmp_path):
    data = tmp_path / "data"
    code, _, err = run("train", "--family", "popularity", "--params", "[1, 2]", "--data-dir", str(data))
    assert code == 2 and "--params must be a JSON object" in err
    code, _, err = run("train", "--family", "popularity", "--params", "{factors: 3}", "--data-dir", str(data))
    assert code == 2 and "--params is not JSON" in err
    assert not data.exists()


def test_train_shows_its_stages_and_each_member_fit(data_dir):
    code, out, err = run("train", "--data-dir", str(data_dir), progress=True)
    assert code == 0, err
    assert out.startswith("v1 hybrid serving ndcg@10=")  # the result on stdout, progress on stderr
    stages = [line.split("]")[0] for line in err.splitlines() if line.startswith("train [")]
    assert stages == ["train [1/5", "train [2/5", "train [3/5", "train [4/5", "train [5/5"]
    assert "train [1/5] snapshot of the event log" in err
    assert re.search(rf"\n    \d+ interactions up to event {N_EVENTS}  \[", err)
    assert "train [2/5] interaction matrix" in err
    assert "train [3/5] evaluate: hybrid on a per-user random 75/25 split" in err
    assert "train [4/5] fit: hybrid on all" in err
    assert "train [5/5] register" in err
    # the hybrid's members, in the evaluation and in the final fit
    assert err.count("session_ease: validation fit 1/2") == 2
    assert "learning the blend weights" in err
    assert "v1 (serving)" in err


def test_train_quiet_prints_only_the_result(data_dir):
    code, out, err = run("train", "--family", "popularity", "--quiet", "--data-dir", str(data_dir), progress=True)
    assert code == 0
    assert err == ""
    assert out.startswith("v1 popularity serving")
    # a second version is compared with the serving one on the same split
    code, out, err = run("train", "--family", "popularity", "--data-dir", str(data_dir), progress=True)
    assert code == 0, err
    assert "serving v1 (popularity) on the same split" in err
    assert out.startswith("v2 popularity serving")


def test_train_on_an_empty_log_is_refused(tmp_path):
    code, _, err = run("train", "--family", "popularity", "--data-dir", str(tmp_path / "data"))
    assert code == 1
    assert "train refused: the event log is empty" in err


def test_evaluate_shows_a_bar_with_its_total(data_dir, tmp_path):
    args = ("evaluate", "--dataset", "data-dir", "--families", "popularity,itemknn", "--protocol", "random",
            "--seeds", "0,1", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"), "--placement-users", "5")
    code, out, err = run(*args, progress=True)
    assert code == 0, err
    assert "evaluate: 100%" in err and "4/4" in err  # 2 families x 2 seeds x 1 protocol
    assert "report:" in out
    code, out, err = run(*args, "--quiet", progress=True)
    assert code == 0
    assert "evaluate:" not in err and "runs" not in err


def test_evaluate_refuses_unknown_families_before_loading(tmp_path):
    code, _, err = run("evaluate", "--families", "popularity,nope", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "unknown family nope; known: als" in err
    assert not (tmp_path / "out").exists()
