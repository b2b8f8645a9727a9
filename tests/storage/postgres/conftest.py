"""Stores on a fresh PostgreSQL schema per test (skipped, saying why, when the server does not answer)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tastemaker.storage.factory import Stores

from ..postgres_service import PostgresOpener


@pytest.fixture
def opener(tmp_path: Path) -> Iterator[PostgresOpener]:
    opener = PostgresOpener(tmp_path)
    yield opener
    opener.cleanup()


@pytest.fixture
def pg(opener: PostgresOpener) -> Iterator[Stores]:
    stores = opener(False)
    yield stores
    stores.close()
