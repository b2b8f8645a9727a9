"""The model registry: versions with parameters, data range, metrics and artifact files.

Records live in the model store (SQLite by default); artifacts are pickles under
``<data dir>/models/``. Promotion and rollback only flip statuses, so they are instant and
every server process notices them on its next check.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tastemaker.storage.sqlite.models import ModelVersion, SQLiteModelStore


@dataclass
class ModelArtifact:
    """What serving needs: the fitted family and the item id of each of its columns."""

    model: Any
    item_ids: list[str]
    family: str
    params: dict[str, Any]


class ModelRegistry:
    def __init__(self, store: SQLiteModelStore, directory: Path):
        self.store = store
        self.directory = directory

    def register(self, artifact: ModelArtifact, *, data_from_seq: int, data_to_seq: int, n_events: int,
                 metrics: dict[str, Any]) -> ModelVersion:
        """Write the artifact atomically, then its record (a crash never leaves a record without a file)."""
        version = self.store.next_version()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"v{version}.pkl"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".model-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(artifact, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        record = ModelVersion(version, artifact.family, artifact.params, time.time(), data_from_seq, data_to_seq,
                              n_events, metrics, str(path.name))
        return self.store.add(record)

    def load(self, version: int) -> ModelArtifact:
        record = self.store.get(version)
        if record is None:
            raise KeyError(f"no model version {version}")
        with open(self.directory / record.artifact, "rb") as fh:
            return pickle.load(fh)

    def list(self) -> list[ModelVersion]:
        return self.store.list()

    def serving(self) -> ModelVersion | None:
        return self.store.serving()

    def promote(self, version: int) -> ModelVersion:
        return self.store.promote(version)

    def rollback(self) -> ModelVersion:
        """Serve the version that served before the current one."""
        previous = self.store.previous_serving()
        if previous is None:
            raise LookupError("no earlier serving version to roll back to")
        return self.store.promote(previous.version)
