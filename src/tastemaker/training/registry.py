"""The model registry: versions with parameters, data range, metrics and artifact files.

Records live in the model store (SQLite by default); artifacts are pickles under
``<data dir>/models/``, named by the SHA-256 of their bytes, so two trainers that finish at
once never write the same file and a record always names exactly the bytes it was given.
Promotion and rollback only flip statuses, so they are instant and every server process
notices them on its next check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tastemaker.storage.protocols import ModelStore, ModelVersion


@dataclass
class ModelArtifact:
    """What serving needs: the fitted family and the item id of each of its columns."""

    model: Any
    item_ids: list[str]
    family: str
    params: dict[str, Any]


class ModelRegistry:
    def __init__(self, store: ModelStore, directory: Path):
        self.store = store
        self.directory = directory

    def register(self, artifact: ModelArtifact, *, data_from_seq: int, data_to_seq: int, n_events: int,
                 metrics: dict[str, Any]) -> ModelVersion:
        """Write the artifact atomically, then its record, numbered as it is stored (a crash
        never leaves a record without a file; concurrent trainers get distinct versions)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = pickle.dumps(artifact, protocol=pickle.HIGHEST_PROTOCOL)
        name = f"sha256-{hashlib.sha256(payload).hexdigest()}.pkl"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".model-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / name)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        record = ModelVersion(0, artifact.family, artifact.params, time.time(), data_from_seq, data_to_seq,
                              n_events, metrics, name)
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
