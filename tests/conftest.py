"""Shared fixtures: an engine on a temporary data dir and a TestClient over the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine

ADMIN_KEY = "test-admin-key-0123456789"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real app over a fresh engine; requests carry the admin key unless they override it.

    The engine is ``client.app.state.engine``; the app's lifespan closes it on exit.
    """
    app = build_app(Engine(settings))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        yield c


@pytest.fixture
def anon(client: TestClient) -> TestClient:
    """A client of the same app that sends no Authorization header."""
    return TestClient(client.app)
