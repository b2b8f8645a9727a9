"""The distributed backends' services for the contract suites: reachability and per-test isolation.

NATS (JetStream) and Redis run at the addresses below (``.ci/run`` starts them when down);
a suite skips, saying which service is missing, only when one cannot be reached.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores

NATS_URL = os.environ.get("TASTEMAKER_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("TASTEMAKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require(url: str, what: str) -> None:
    """Skip the test with a clear message when the service at ``url`` does not accept connections."""
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"{what} is not reachable at {url} ({exc}); .ci/run starts it")


def jetstream_opener(tmp_path: Path, stream_name: str) -> Callable[[bool], Stores]:
    """SQLite stores whose event log is a JetStream stream of its own (``stream_name``)."""
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    spec = StreamSpec(name=stream_name, subject_prefix=f"test.{stream_name}")

    def opener(durable: bool) -> Stores:
        stores = open_stores(Settings(data_dir=tmp_path / "data", backend="sqlite", durable=durable))
        log = NatsEventLog(NATS_URL, spec)
        close_sqlite = stores.close

        def close() -> None:
            log.close()
            close_sqlite()

        stores.events, stores.close = log, close
        return stores

    return opener


def new_stream_name() -> str:
    """A stream name no other test or pytest worker uses."""
    return f"TEST_{uuid.uuid4().hex}"


def delete_stream(stream_name: str, subject_prefix: str | None = None) -> None:
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    log = NatsEventLog(NATS_URL, StreamSpec(name=stream_name, subject_prefix=subject_prefix or f"test.{stream_name}"))
    log.delete_stream()
    log.close()
