"""Fixtures of the CLI tests: a quiet environment, a small generated data set and a data dir holding it."""

from __future__ import annotations

import pytest

from tastemaker.datasets import generate
from tests.cli.helpers import N_EVENTS, N_ITEMS, N_USERS, run


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    monkeypatch.setenv("TASTEMAKER_NO_PROGRESS", "1")
    monkeypatch.setenv("TASTEMAKER_DURABLE", "0")
    monkeypatch.delenv("TASTEMAKER_DATA_DIR", raising=False)
    monkeypatch.delenv("TASTEMAKER_ADMIN_KEY", raising=False)


@pytest.fixture(scope="module")
def dataset():
    return generate(N_USERS, N_ITEMS, N_EVENTS, seed=3)


@pytest.fixture
def data_dir(tmp_path, dataset):
    """A data dir holding the small generated data set."""
    paths = dataset.write(tmp_path / "files", "parquet")
    data = tmp_path / "data"
    for kind in ("items", "users", "events"):
        code, _, err = run("import", kind, str(paths[kind]), "--data-dir", str(data))
        assert code == 0, err
    return data
