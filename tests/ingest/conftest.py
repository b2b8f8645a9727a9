"""Stores on a temporary data dir; several connections to the same file play other workers."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[], Stores]]:
    opened: list[Stores] = []

    def opener() -> Stores:
        stores = open_stores(Settings(data_dir=tmp_path / "data", durable=False))
        opened.append(stores)
        return stores

    yield opener
    for stores in opened:
        stores.close()


@pytest.fixture
def stores(open_store) -> Stores:
    return open_store()
