"""The backends every store contract runs against: the embedded deployment (SQLite) and the
distributed one (PostgreSQL, a fresh schema per test: tests/storage/postgres_service.py;
skipped, saying why, when the server does not answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores


SERVER_OPEN_LIMIT = 8  # open Stores per test on a server backend (tests use at most 6 at once)


@dataclass
class Backend:
    """Opens stores on one shared data location; every call is a fresh connection set."""

    name: str
    opener: Callable[[bool], Stores]
    opened: list[Stores] = field(default_factory=list)

    def open(self, durable: bool = False) -> Stores:
        stores = self.opener(durable)
        self.opened.append(stores)
        if hasattr(self.opener, "cleanup") and len(self.opened) > SERVER_OPEN_LIMIT:
            # a server backend holds connections: property tests open stores per example and
            # use only the newest, so the oldest go before two pytest workers exhaust the server
            self.opened.pop(0).close()
        return stores

    def close_all(self) -> None:
        for stores in self.opened:
            stores.close()
        self.opened.clear()
        cleanup = getattr(self.opener, "cleanup", None)
        if cleanup is not None:  # the backend's own per-test space (a PostgreSQL schema)
            cleanup()


def _sqlite(tmp_path: Path) -> Callable[[bool], Stores]:
    return lambda durable: open_stores(Settings(data_dir=tmp_path / "data", backend="sqlite", durable=durable))


def _postgres(tmp_path: Path) -> Callable[[bool], Stores]:
    from .postgres_service import PostgresOpener

    return PostgresOpener(tmp_path)


BACKENDS: dict[str, Callable[[Path], Callable[[bool], Stores]]] = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, BACKENDS[request.param](tmp_path))
    yield b
    b.close_all()


# The event log has one more backend: a JetStream stream (the others' stores stay SQLite).
EVENT_LOG_BACKENDS = sorted([*BACKENDS, "jetstream"])


@pytest.fixture(params=EVENT_LOG_BACKENDS)
def event_log_backend(request, tmp_path: Path) -> Iterator[Backend]:
    """Like ``backend``, JetStream included: suites of the event log take it as their ``backend``."""
    if request.param != "jetstream":
        b = Backend(request.param, BACKENDS[request.param](tmp_path))
        yield b
        b.close_all()
        return
    from . import services

    services.require(services.NATS_URL, "NATS JetStream")
    name = services.new_stream_name()
    b = Backend("jetstream", services.jetstream_opener(tmp_path, name))
    try:
        yield b
    finally:
        b.close_all()
        services.delete_stream(name)


@pytest.fixture
def stores(backend: Backend) -> Stores:
    return backend.open()


@pytest.fixture
def other_stores(backend: Backend, stores: Stores) -> Stores:
    """A second, independent connection to the same data (another worker or process)."""
    return backend.open()
