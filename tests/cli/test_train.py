"""``tastemaker train`` (cli/train.py, cli/progress.py): early refusal, stage lines above a bar
over the stages, --quiet."""

from __future__ import annotations

import getpass
import re
import socket

import pytest

from tastemaker.config import Settings
from tastemaker.models.families import FAMILIES
from tastemaker.storage.factory import open_stores
from tastemaker.training import job
from tests.cli.helpers import N_EVENTS, run


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
    # each stage line once (the bar is redrawn below the lines: splitlines splits on its \r too)
    stages = [line.split("]")[0] for line in err.splitlines() if line.startswith("train [")]
    assert stages == ["train [1/5", "train [2/5", "train [3/5", "train [4/5", "train [5/5"]
    assert "train [1/5] snapshot of the event log" in err
    assert re.search(rf"^    \d+ interactions up to event {N_EVENTS}  \[", err, re.MULTILINE)
    assert "train [2/5] interaction matrix" in err
    assert "train [3/5] evaluate: hybrid on a per-user random 75/25 split" in err
    assert "train [4/5] fit: hybrid on all" in err
    assert "train [5/5] register" in err
    # the hybrid's members, in the evaluation and in the final fit
    assert len(re.findall(r"^    session_ease: validation fit 1/2  \[", err, re.MULTILINE)) == 2  # lines, not the bar
    assert "learning the blend weights" in err
    assert "v1 (serving)" in err


def _bar_frames(err: str) -> list[str]:
    """The bar's drawings on stderr (tqdm redraws it after a carriage return)."""
    return [frame for frame in re.split(r"[\r\n]", err) if re.search(r"\| \d/5 stages \[", frame)]


def test_train_draws_a_bar_over_the_stages_on_stderr(data_dir):
    code, out, err = run("train", "--family", "popularity", "--data-dir", str(data_dir), progress=True)
    assert code == 0, err
    assert out.count("\n") == 1 and out.startswith("v1 popularity serving ndcg@10=")  # stdout: the result only
    frames = _bar_frames(err)
    counts = [int(re.search(r"\| (\d)/5 stages", f).group(1)) for f in frames]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 5  # up the stages, filled at the end
    assert any(f.startswith("evaluate: popularity on a per-user random") for f in frames)  # stage: message
    assert any(f.startswith("register: ") for f in frames)


def test_the_bar_shows_nothing_with_quiet_and_nothing_on_failure_but_the_error(tmp_path, data_dir):
    code, out, err = run("train", "--family", "popularity", "--quiet", "--data-dir", str(data_dir), progress=True)
    assert code == 0 and err == "" and _bar_frames(err) == []
    code, _, err = run("train", "--family", "popularity", "--data-dir", str(tmp_path / "empty"), progress=True)
    assert code == 1 and "train refused: the event log is empty" in err
    assert all(not re.search(r"\| 5/5 stages", f) for f in _bar_frames(err))  # never drawn as done


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


def test_models_promote_canary_starts_a_canary_and_a_promotion_ends_it(data_dir):
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        job.train(stores, "popularity", evaluate=False, promote="always")
        job.train(stores, "popularity", evaluate=False, promote="never")
    code, out, err = run("models", "promote", "2", "--canary", "0.1", "--latency-budget-ms", "50", "--data-dir", str(data_dir))
    assert code == 0, err
    assert "v2 serves 10.00% of users beside v1" in out and "p99 budget 50 ms" in out
    code, _, err = run("models", "promote", "2", "--canary", "0.1", "--data-dir", str(data_dir))
    assert code == 1 and "no room" in err  # one canary at a time
    code, _, err = run("models", "promote", "2", "--canary", "1.5", "--data-dir", str(data_dir))
    assert code == 1 and "canary" in err
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        (running,) = stores.experiments.list("running")
        assert running.definition["kind"] == "canary" and stores.models.serving().version == 1
    code, out, err = run("models", "promote", "2", "--data-dir", str(data_dir))
    assert code == 0 and out.strip() == "serving v2", err
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        assert stores.experiments.get(running.experiment_id).definition["status_reason"] == "v2 promoted"
        assert [r.action for r in stores.audit.read(descending=False)][-3:] == ["models.canary", "models.promote",
                                                                                 "experiments.stop"]


def test_models_promote_rollback_and_train_are_audited(data_dir):
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        job.train(stores, "popularity", evaluate=False, promote="always")  # v1, by the library: no record
        job.train(stores, "popularity", evaluate=False, promote="never")  # v2
    assert run("models", "promote", "2", "--data-dir", str(data_dir))[0] == 0
    assert run("models", "rollback", "--data-dir", str(data_dir))[0] == 0
    code, out, err = run("train", "--family", "popularity", "--promote", "always", "-q", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("v3 popularity serving"), err
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        got = [(r.actor, r.action, r.target, r.summary, r.address) for r in stores.audit.read(descending=False)
               if r.action.startswith("models.")]
    who, where = f"cli:{getpass.getuser()}", f"cli@{socket.gethostname()}"
    assert got == [
        (who, "models.promote", "2", {"previous": 1}, where),
        (who, "models.rollback", "1", {"previous": 2}, where),
        (who, "models.train", "3", {"family": "popularity", "params": {}, "promote": "always", "version": 3}, where),
        (who, "models.promote", "3", {"by": "train", "promote": "always"}, where),
    ]


def test_train_is_refused_naming_the_node_that_holds_the_training_lease(data_dir):
    from tastemaker.storage.local.lease import LocalLease

    server = LocalLease(data_dir, "train", owner="server-1:99")  # a server's train job runs
    assert server.acquire()
    try:
        code, out, err = run("train", "--family", "popularity", "--data-dir", str(data_dir))
    finally:
        server.release()
    assert code == 1 and out == ""
    assert "train refused: the 'train' lease is held by server-1:99" in err
    with open_stores(Settings(data_dir=data_dir, durable=False)) as stores:
        assert stores.models.list() == []  # nothing trained
    assert run("train", "--family", "popularity", "--data-dir", str(data_dir))[0] == 0  # free again
