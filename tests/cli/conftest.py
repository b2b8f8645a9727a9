"""Fixtures of the CLI tests: a quiet environment and a small generated data set."""

from __future__ import annotations

import pytest

from tastemaker.datasets import generate
from tests.cli.helpers import N_EVENTS, N_ITEMS, N_USERS


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch):
    monkeypatch.setenv("TASTEMAKER_NO_PROGRESS", "1")
    monkeypatch.setenv("TASTEMAKER_DURABLE", "0")
    monkeypatch.delenv("TASTEMAKER_DATA_DIR", raising=False)
    monkeypatch.delenv("TASTEMAKER_ADMIN_KEY", raising=False)


@pytest.fixture(scope="module")
def dataset():
    return generate(N_USERS, N_ITEMS, N_EVENTS, seed=3)
