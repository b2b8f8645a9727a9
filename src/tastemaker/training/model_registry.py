"""The model registry: versions with parameters, data range, metrics and artifacts.

Records live in the model store; artifacts are pickles in the artifact store under
``models/``, named by the SHA-256 of their bytes, so two trainers that finish at once never
write the same key and a record always names exactly the bytes it was given. Promotion and
rollback only flip statuses, so they are instant and every server process notices them on
its next check.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import time
from typing import Any

from tastemaker.models.artifact import ModelArtifact
from tastemaker.storage.protocols import ArtifactStore, ModelStore, ModelVersion

MODELS_PREFIX = "models/"
#: Classes that moved since versions were first stored: a version pickled under the old
#: path still loads (its bytes, and so its content-addressed key, never change).
MOVED = {("tastemaker.training.registry", "ModelArtifact"): ("tastemaker.models.artifact", "ModelArtifact")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(*MOVED.get((module, name), (module, name)))


def loads(payload: bytes) -> ModelArtifact:
    """Unpickle a stored artifact, reading classes that have moved from where they are now."""
    return _Unpickler(io.BytesIO(payload)).load()


class ModelRegistry:
    def __init__(self, store: ModelStore, artifacts: ArtifactStore):
        self.store = store
        self.artifacts = artifacts

    def register(self, artifact: ModelArtifact, *, data_from_seq: int, data_to_seq: int, n_events: int,
                 metrics: dict[str, Any]) -> ModelVersion:
        """Store the artifact (atomically), then its record, numbered as it is stored (a crash
        never leaves a record without an artifact; concurrent trainers get distinct versions)."""
        payload = pickle.dumps(artifact, protocol=pickle.HIGHEST_PROTOCOL)
        name = f"sha256-{hashlib.sha256(payload).hexdigest()}.pkl"
        self.artifacts.put(MODELS_PREFIX + name, payload)
        record = ModelVersion(0, artifact.family, artifact.params, time.time(), data_from_seq, data_to_seq,
                              n_events, metrics, name)
        return self.store.add(record)

    def load(self, version: int) -> ModelArtifact:
        record = self.store.get(version)
        if record is None:
            raise KeyError(f"no model version {version}")
        payload = self.artifacts.get(MODELS_PREFIX + record.artifact)
        if payload is None:
            raise KeyError(f"model version {version}: artifact {record.artifact} is missing")
        return loads(payload)

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
